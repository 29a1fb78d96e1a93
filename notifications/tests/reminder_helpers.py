"""Helpers shared by the reminder and delivery tests: channels, preferences and medications."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from medikeep.crypto import encrypt_json
from notifications.models import NotificationChannel, NotificationPreference
from notifications.reminders import REMINDER_EVENT
from records.tests.factories.medications import MedicationFactory


def webhook_channel(user, url: str, *, name: str | None = None, **fields) -> NotificationChannel:
    """A webhook channel of `user` posting to `url` (a loopback sink in these tests)."""
    return NotificationChannel.objects.create(
        user=user,
        name=name or f"hook {NotificationChannel.objects.count() + 1}",
        channel_type="webhook",
        config_encrypted=encrypt_json({"url": url, "method": "POST"}),
        **fields,
    )


def subscribe(
    user, channel, *, event_type: str = REMINDER_EVENT, before: int = 0, enabled: bool = True
) -> NotificationPreference:
    return NotificationPreference.objects.create(
        user=user,
        channel=channel,
        event_type=event_type,
        remind_before_minutes=before,
        is_enabled=enabled,
    )


def reminded_channel(user, url: str, *, before: int = 0, **fields) -> NotificationChannel:
    """A webhook channel with medication reminders on."""
    channel = webhook_channel(user, url, **fields)
    subscribe(user, channel, before=before)
    return channel


def medication(patient, times, **fields):
    fields.setdefault("reminder_enabled", True)
    return MedicationFactory(patient=patient, reminder_times=list(times), **fields)


def local(zone: str, *args) -> dt.datetime:
    """An aware datetime in `zone` (fold=0)."""
    return dt.datetime(*args, tzinfo=ZoneInfo(zone))
