from django.contrib import admin

from sharing.models import FamilyHistoryShare


@admin.register(FamilyHistoryShare)
class FamilyHistoryShareAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "family_member",
        "shared_by",
        "shared_with",
        "permission_level",
        "is_active",
        "created_at",
    )
    list_filter = ("is_active", "permission_level")
    list_select_related = ("family_member", "shared_by", "shared_with")
    search_fields = (
        "family_member__name",
        "shared_by__username",
        "shared_with__username",
        "shared_with__email",
        "sharing_note",
    )
    raw_id_fields = ("invitation", "family_member", "shared_by", "shared_with")
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
    list_per_page = 50
