from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone

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
    fields = ["accessed_at", "format", "ip_address", "user_agent"]
    readonly_fields = fields
    ordering = ["-accessed_at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False  # the log is written by openings of the link only

    def has_change_permission(self, request, obj=None):
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
        "is_active",
        "access_count",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "expires_at", "created_at"]
    search_fields = ["label", "patient__first_name", "patient__last_name", "created_by__username"]
    date_hierarchy = "created_at"
    raw_id_fields = ["patient", "created_by"]
    fields = [
        "patient",
        "created_by",
        "label",
        "created_at",
        "expires_at",
        "revoked_at",
        "token_hash",
    ]
    readonly_fields = ["patient", "created_by", "token_hash", "created_at", "revoked_at"]
    list_select_related = ["patient", "created_by"]
    inlines = [EmergencyLinkAccessInline]
    actions = ["revoke_links"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_access_count=Count("accesses"))

    def has_add_permission(self, request):
        # A link is only usable with the token shown once at creation through the API; one
        # made here would have no token anybody knows.
        return False

    @admin.display(boolean=True, description="in force")
    def is_active(self, obj: EmergencyLink) -> bool:
        # Neither revoked nor expired. The API's status also checks that the maker still
        # holds FULL; that is an access check per maker, left out of this list.
        return obj.revoked_at is None and obj.expires_at > timezone.now()

    @admin.display(description="openings", ordering="_access_count")
    def access_count(self, obj: EmergencyLink) -> int:
        return obj._access_count

    @admin.action(description="Revoke the selected emergency links")
    def revoke_links(self, request, queryset):
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{revoked} emergency link(s) revoked.", messages.SUCCESS)
