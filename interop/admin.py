from django.contrib import admin

from interop.models import EmergencyLink, EmergencyLinkAccess, ExternalIdentifier, ServerIdentity


@admin.register(ServerIdentity)
class ServerIdentityAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created_at"]
    readonly_fields = ["instance", "created_at"]

    def has_add_permission(self, request):
        return False  # made on first use; a second one would split the identifier system

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ExternalIdentifier)
class ExternalIdentifierAdmin(admin.ModelAdmin):
    list_display = ["record_type", "record_id", "system", "value", "patient", "created_at"]
    list_filter = ["record_type"]
    search_fields = ["system", "value"]
    raw_id_fields = ["patient"]
    list_select_related = ["patient"]


class EmergencyLinkAccessInline(admin.TabularInline):
    model = EmergencyLinkAccess
    extra = 0
    can_delete = False
    readonly_fields = ["accessed_at", "ip_address", "user_agent", "format"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EmergencyLink)
class EmergencyLinkAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "patient",
        "label",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    raw_id_fields = ["patient", "created_by"]
    readonly_fields = ["token_hash", "created_at"]
    list_select_related = ["patient", "created_by"]
    inlines = [EmergencyLinkAccessInline]
