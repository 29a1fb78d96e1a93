"""Small builders shared by the events, preferences and history tests."""

from __future__ import annotations

from medikeep.crypto import encrypt_json
from notifications.models import Delivery, NotificationChannel, NotificationPreference


def make_channel(
    user, name: str = "Phone", *, is_enabled: bool = True, url: str = ""
) -> NotificationChannel:
    """A webhook channel of `user` (to a loopback address unless a URL is given)."""
    return NotificationChannel.objects.create(
        user=user,
        name=name,
        channel_type="webhook",
        config_encrypted=encrypt_json({"url": url or "http://127.0.0.1:9/hook", "method": "POST"}),
        is_enabled=is_enabled,
    )


def subscribe(user, channel, *event_types: str, is_enabled: bool = True, **fields):
    for event_type in event_types:
        NotificationPreference.objects.create(
            user=user, channel=channel, event_type=event_type, is_enabled=is_enabled, **fields
        )


def received(event_type: str) -> dict[str, set[str]]:
    """{username: {channel names}} of the messages of `event_type` written so far."""
    inbox: dict[str, set[str]] = {}
    for username, channel_name in Delivery.objects.filter(event_type=event_type).values_list(
        "user__username", "channel_name"
    ):
        inbox.setdefault(username, set()).add(channel_name)
    return inbox
