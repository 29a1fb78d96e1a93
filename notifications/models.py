"""Notification channels, preferences, and the deliveries (outbox and history in one table).

A `Delivery` row is written before anything is sent and is the only record of work to do: the
broker only carries its id. Reminder rows carry a `dedup_key` unique in the database, one per
(medication, slot, channel), so two planners, a retried task or a re-queued row can never make
a second row for the same dose; test sends leave it empty and are never deduplicated.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ChannelType(models.TextChoices):
    EMAIL = "email", "Email"
    TELEGRAM = "telegram", "Telegram"
    DISCORD = "discord", "Discord"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"
    PUSHOVER = "pushover", "Pushover"
    NTFY = "ntfy", "ntfy"
    GOTIFY = "gotify", "Gotify"


class TestStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"


class NotificationChannel(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels"
    )
    name = models.CharField(max_length=100)
    channel_type = models.CharField(max_length=20, choices=ChannelType.choices)
    # The type's settings as encrypted JSON (medikeep/crypto.py); never answered in clear.
    config_encrypted = models.TextField()
    is_enabled = models.BooleanField(default=True)
    is_verified = models.BooleanField(default=False)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_status = models.CharField(
        max_length=20, choices=TestStatus.choices, null=True, blank=True
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    total_notifications_sent = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="notifications_channel_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel_type})"


class NotificationPreference(models.Model):
    """Whether one event type goes to one channel of the user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="preferences"
    )
    event_type = models.CharField(max_length=50)
    is_enabled = models.BooleanField(default=True)
    # For medication reminders: how long before the dose time the reminder goes out.
    remind_before_minutes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["event_type", "channel_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "event_type"], name="notifications_preference_once"
            )
        ]
        indexes = [models.Index(fields=["event_type", "is_enabled"], name="notif_pref_event")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.channel_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting to be sent (or to be retried at next_attempt_at)
    SENDING = "sending", "Sending"  # claimed by a worker until lease_until
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # gave up after the last attempt
    CANCELLED = "cancelled", "Cancelled"  # no longer wanted (medication stopped, share revoked …)


class Delivery(models.Model):
    """One message to one channel: the outbox row while pending, the history row after."""

    # No index of its own: the two (user, …) indexes below serve every lookup by user, and
    # each index costs the planner's bulk insert (docs/benchmarks.md, issue 14).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notification_deliveries",
        db_index=False,
    )
    channel = models.ForeignKey(
        NotificationChannel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    # Kept so the history still reads well after a channel is deleted.
    channel_name = models.CharField(max_length=100, blank=True)
    channel_type = models.CharField(max_length=20, blank=True)
    event_type = models.CharField(max_length=50)
    event_data = models.JSONField(default=dict, blank=True)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    is_test = models.BooleanField(default=False)
    dedup_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    # Reminders: the dose's time; not before `send_after` (dose time − remind_before).
    scheduled_for = models.DateTimeField(null=True, blank=True)
    send_after = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # The history, newest first: with the id its order is the index's own (no sort,
            # even for a deep page); the second makes its filtered counts index-only.
            models.Index(fields=["user", "created_at", "id"], name="notif_delivery_user_created"),
            models.Index(fields=["user", "event_type", "status"], name="notif_delivery_user_event"),
            models.Index(fields=["status", "next_attempt_at"], name="notif_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.channel_name} ({self.status})"

    @property
    def message_preview(self) -> str:
        return self.body[:200]


class SignInAddress(models.Model):
    """An address a user has signed in from, so that a sign-in from an unknown one can be
    reported to them (the `new_sign_in` event). One row per (user, address)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_in_addresses"
    )
    ip_address = models.GenericIPAddressField()
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["user_id", "-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "ip_address"], name="notifications_signin_address_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} from {self.ip_address}"
