"""The event types a user can be notified of, and the text of each message.

The registry is the single list: `GET /notifications/event-types`, the preference matrix, the
check on `POST /notifications/preferences` and `notify()` all read it. A message is rendered
from the event's `data` (plain JSON values the sender gives); a key the sender left out gives
a neutral wording, never an error, so a message always goes out. Messages carry what the
recipient needs to act (which test, which patient) and never the clinical values themselves;
nothing here logs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

TITLE_MAX = 255  # Delivery.title
BODY_MAX = 4000  # well under every channel's own limit (Discord's is 2,000 per embed text)


class UnknownEventType(ValueError):
    """An event type that is not in the registry (a programming error, not bad input)."""


@dataclass(frozen=True)
class EventType:
    value: str
    label: str
    description: str
    category: str
    is_implemented: bool
    render: Callable[[dict], tuple[str, str]]
    # Only administrators may subscribe to it or receive it (system events such as backups:
    # the reference sent those to any user who had ticked the box).
    admin_only: bool = False

    def as_dict(self) -> dict:
        return {
            "value": self.value,
            "label": self.label,
            "description": self.description,
            "category": self.category,
            "is_implemented": self.is_implemented,
        }


# --- wording helpers ------------------------------------------------------------------------


def _text(data: dict, key: str, default: str = "") -> str:
    value = data.get(key)
    if value is None:
        return default
    text = str(value).strip()
    return text or default


def _when(data: dict, key: str) -> str:
    """A timestamp of the data as "2026-05-01 14:03 UTC"; empty when absent or unreadable."""
    value = data.get(key)
    moment = value if isinstance(value, datetime) else None
    if moment is None and isinstance(value, str):
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
    if moment is None:
        return ""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _lines(*lines: str) -> str:
    return "\n".join(line for line in lines if line)


# --- the messages ---------------------------------------------------------------------------


def _medication_reminder(data: dict) -> tuple[str, str]:
    name = _text(data, "medication_name", "your medication")
    dosage = _text(data, "dosage")
    at = _text(data, "scheduled_time")  # "HH:MM" in the facility's time zone
    patient = _text(data, "patient_name")
    what = f"{name} ({dosage})" if dosage else name
    prefix = "Test reminder" if data.get("is_test") else "Medication reminder"
    first = f"Time to take {what}" + (f" at {at}" if at else "") + "."
    # The recipient's own signed links (made at send time, for those who may answer).
    taken, skipped = _text(data, "answer_taken_url"), _text(data, "answer_skipped_url")
    return (
        f"{prefix}: {name}",
        _lines(
            first,
            f"For {patient}." if patient else "",
            _text(data, "note"),
            f"Taken: {taken}" if taken else "",
            f"Skipped: {skipped}" if skipped else "",
        ),
    )


def _lab_result_available(data: dict) -> tuple[str, str]:
    test = _text(data, "test_name", "A lab test")
    patient = _text(data, "patient_name")
    return (
        "Lab result available",
        _lines(
            f"The result of {test}" + (f" for {patient}" if patient else "") + " is in.",
            "Open MediKeep to read it.",
        ),
    )


def _invitation_received(data: dict) -> tuple[str, str]:
    sender = _text(data, "from_user", "Someone")
    kind = _text(data, "invitation_kind", "sharing")
    title = _text(data, "invitation_title")
    message = _text(data, "message")
    return (
        "New sharing invitation",
        _lines(
            f"{sender} has sent you a {kind} invitation" + (f": {title}." if title else "."),
            f'Their message: "{message[:500]}"' if message else "",
            "Open MediKeep to accept or decline it.",
        ),
    )


def _invitation_accepted(data: dict) -> tuple[str, str]:
    recipient = _text(data, "by_user", "The recipient")
    title = _text(data, "invitation_title")
    return (
        "Invitation accepted",
        f"{recipient} has accepted your invitation" + (f": {title}." if title else "."),
    )


def _share_revoked(data: dict) -> tuple[str, str]:
    patient = _text(data, "patient_name", "a patient")
    by = _text(data, "by_user")
    return (
        "Share access revoked",
        _lines(
            f"Your access to the record of {patient} has ended"
            + (f"; {by} revoked it." if by else "."),
            "It no longer appears in your list of patients.",
        ),
    )


def _password_changed(data: dict) -> tuple[str, str]:
    username = _text(data, "username", "your account")
    at = _when(data, "changed_at")
    return (
        "Password changed",
        _lines(
            f"The password of {username} was changed" + (f" on {at}." if at else "."),
            "Every other session was signed out. If you did not do this, reset your password "
            "now and tell your administrator.",
        ),
    )


def _new_sign_in(data: dict) -> tuple[str, str]:
    username = _text(data, "username", "your account")
    address = _text(data, "ip_address", "an unknown address")
    at = _when(data, "signed_in_at")
    return (
        "New sign-in to your account",
        _lines(
            f"{username} signed in from {address}, an address not seen before"
            + (f", on {at}." if at else "."),
            "If this was you, nothing needs doing. If not, change your password now.",
        ),
    )


def _size(data: dict) -> str:
    size = data.get("size_bytes")
    if not isinstance(size, int | float) or isinstance(size, bool):
        return ""
    return f"Size: {size / (1024 * 1024):.1f} MB"


def _backup_completed(data: dict) -> tuple[str, str]:
    kind = _text(data, "backup_type", "A")
    return (
        "Backup completed",
        _lines(
            f"{kind.capitalize()} backup finished successfully.",
            f"File: {_text(data, 'filename')}" if data.get("filename") else "",
            _size(data),
            f"Checksum: {_text(data, 'checksum')}" if data.get("checksum") else "",
        ),
    )


def _backup_failed(data: dict) -> tuple[str, str]:
    kind = _text(data, "backup_type", "A")
    error = _text(data, "error")
    return (
        "Backup failed",
        _lines(
            f"{kind.capitalize()} backup did not complete.",
            f"Reason: {error[:500]}" if error else "",
            "Check the server's logs and the backup settings.",
        ),
    )


# --- the registry ---------------------------------------------------------------------------

EVENT_TYPES: dict[str, EventType] = {
    event.value: event
    for event in (
        EventType(
            "medication_reminder_due",
            "Medication Reminder",
            "Reminders for taking medications",
            "reminders",
            True,
            _medication_reminder,
        ),
        EventType(
            "lab_result_available",
            "Lab Result Available",
            "Notification when lab results are ready",
            "results",
            True,
            _lab_result_available,
        ),
        EventType(
            "invitation_received",
            "Invitation Received",
            "Someone invites you to share a patient record or family history",
            "collaboration",
            True,
            _invitation_received,
        ),
        EventType(
            "invitation_accepted",
            "Invitation Accepted",
            "Someone accepted an invitation you sent",
            "collaboration",
            True,
            _invitation_accepted,
        ),
        EventType(
            "share_revoked",
            "Share Revoked",
            "Your access to a patient record shared with you has ended",
            "collaboration",
            True,
            _share_revoked,
        ),
        EventType(
            "password_changed",
            "Password Changed",
            "Your account's password was changed",
            "security",
            True,
            _password_changed,
        ),
        EventType(
            "new_sign_in",
            "New Sign-in",
            "Someone signed in to your account from an address not seen before",
            "security",
            True,
            _new_sign_in,
        ),
        EventType(
            "backup_completed",
            "Backup Completed",
            "A backup of the server finished (administrators)",
            "system",
            False,
            _backup_completed,
            admin_only=True,
        ),
        EventType(
            "backup_failed",
            "Backup Failed",
            "A backup of the server failed (administrators)",
            "system",
            False,
            _backup_failed,
            admin_only=True,
        ),
    )
}


def get(event_type: str) -> EventType:
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"Unknown notification event type: {event_type!r}") from None


def is_registered(event_type: str) -> bool:
    return event_type in EVENT_TYPES


def available_to(user) -> list[EventType]:
    """The event types `user` may subscribe to, in the registry's order."""
    is_admin = bool(getattr(user, "is_admin", False))
    return [event for event in EVENT_TYPES.values() if is_admin or not event.admin_only]


def render(event_type: str, data: dict) -> tuple[str, str]:
    """(title, body) of one message of `event_type`; raises UnknownEventType."""
    title, body = get(event_type).render(data or {})
    return title[:TITLE_MAX], body[:BODY_MAX]
