from django.contrib import admin

from sharing.models import PortalInvitation, PortalRequest


@admin.register(PortalInvitation)
class PortalInvitationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "patient",
        "email",
        "permission_level",
        "status",
        "invited_by",
        "expires_at",
        "accepted_by",
        "created_at",
    )
    list_filter = ("status", "permission_level")
    list_select_related = ("patient", "invited_by", "accepted_by")
    search_fields = ("email", "patient__first_name", "patient__last_name", "invited_by__username")
    raw_id_fields = ("patient", "invited_by", "accepted_by")
    readonly_fields = ("created_at", "accepted_at")
    date_hierarchy = "created_at"
    list_per_page = 50


class DeletedFilter(admin.SimpleListFilter):
    """Soft-deleted requests are hidden from the API but kept; this shows either kind."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Not deleted"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(PortalRequest)
class PortalRequestAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "patient",
        "request_type",
        "status",
        "submitted_by",
        "created_at",
        "resolved_by",
        "resolved_at",
        "deleted_at",
    )
    list_filter = ("status", "request_type", DeletedFilter)
    list_select_related = ("patient", "submitted_by", "resolved_by")
    search_fields = (
        "patient__first_name",
        "patient__last_name",
        "submitted_by__username",
        "resolution_note",
    )
    raw_id_fields = ("patient", "submitted_by", "resolved_by", "medication", "deleted_by")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"
    list_per_page = 50
