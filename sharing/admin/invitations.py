from django.contrib import admin

from sharing.models import Invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "invitation_type",
        "status",
        "sent_by",
        "sent_to",
        "permission_level",
        "expires_at",
        "created_at",
    )
    list_filter = ("status", "invitation_type", "permission_level")
    list_select_related = ("sent_by", "sent_to")
    search_fields = ("title", "sent_by__username", "sent_to__username", "sent_to__email")
    raw_id_fields = ("sent_by", "sent_to", "patients", "family_members")
    readonly_fields = ("created_at", "updated_at", "responded_at")
    date_hierarchy = "created_at"
    list_per_page = 50
