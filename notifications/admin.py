from django.contrib import admin, messages
from django.utils.html import format_html_join

from medikeep import crypto
from notifications import channels
from notifications.models import (
    Delivery,
    NotificationChannel,
    NotificationPreference,
    SignInAddress,
)


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    """Channels with their settings shown masked only; the encrypted text is never a field."""

    list_display = (
        "name",
        "user",
        "channel_type",
        "is_enabled",
        "is_verified",
        "last_test_status",
        "last_used_at",
        "total_notifications_sent",
    )
    list_filter = ("channel_type", "is_enabled", "is_verified", "last_test_status")
    search_fields = ("name", "user__username", "user__email")
    search_help_text = "Search by channel name or the owner's user name or email."
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    list_per_page = 50
    actions = ["reencrypt_settings"]
    fields = (
        "user",
        "name",
        "channel_type",
        "is_enabled",
        "masked_settings",
        "is_verified",
        "last_test_at",
        "last_test_status",
        "last_used_at",
        "total_notifications_sent",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "user",
        "channel_type",
        "masked_settings",
        "is_verified",
        "last_test_at",
        "last_test_status",
        "last_used_at",
        "total_notifications_sent",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False  # settings are entered by their owner through the API, which checks them

    @admin.display(description="settings (masked)")
    def masked_settings(self, obj):
        try:
            shown = channels.mask_config(obj.channel_type, channels.channel_config(obj))
        except crypto.DecryptionError:
            return channels.NEEDS_REENTRY
        return (
            format_html_join("\n", "<div><code>{}</code>: {}</div>", sorted(shown.items())) or "—"
        )

    @admin.action(description="Re-encrypt settings with the current key (after a key rotation)")
    def reencrypt_settings(self, request, queryset):
        changed = channels.reencrypt(queryset)
        self.message_user(request, f"{changed} channel(s) re-encrypted.", messages.SUCCESS)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "channel", "event_type", "is_enabled", "remind_before_minutes")
    list_filter = ("event_type", "is_enabled")
    search_fields = ("user__username", "channel__name", "event_type")
    list_select_related = ("user", "channel")
    raw_id_fields = ("user", "channel")
    readonly_fields = ("created_at", "updated_at")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The outbox and history: read for diagnosis; the delivery worker owns the rows."""

    list_display = (
        "created_at",
        "user",
        "channel_name",
        "channel_type",
        "event_type",
        "status",
        "is_test",
        "attempt_count",
        "sent_at",
    )
    list_filter = ("status", "channel_type", "event_type", "is_test")
    search_fields = ("user__username", "channel_name", "event_type", "title", "dedup_key")
    list_select_related = ("user",)
    raw_id_fields = ("user", "channel")
    date_hierarchy = "created_at"
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(SignInAddress)
class SignInAddressAdmin(admin.ModelAdmin):
    """Addresses users signed in from (for new-sign-in alerts); deleting a row makes the next
    sign-in from that address count as new again."""

    list_display = ("user", "ip_address", "first_seen_at", "last_seen_at")
    search_fields = ("user__username", "ip_address")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("user", "ip_address", "first_seen_at", "last_seen_at")

    def has_add_permission(self, request):
        return False
