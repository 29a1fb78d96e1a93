"""Admin of the per-user tag registry (UserTag)."""

from django.contrib import admin

from records.models import UserTag


@admin.register(UserTag)
class UserTagAdmin(admin.ModelAdmin):
    """Each user's tags with their colours. The tags themselves live on the records; editing
    a row here renames nothing there (the /tags/rename endpoint does that)."""

    list_display = ("tag", "user", "color", "created_at")
    list_select_related = ("user",)
    list_filter = ("created_at",)
    search_fields = ("tag", "user__username", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)
    ordering = ("user", "tag")
    list_per_page = 100
