"""Raising events: who gets a message, on which channels, and the outbox rows that carry it.

`notify()` is how every part of the system says "tell these users that X happened". It writes
one Delivery row per (recipient, enabled preference on an enabled channel) inside the caller's
transaction, so an event whose change rolls back leaves no message behind, and hands the new
rows' ids to the delivery tasks once that transaction commits (the rows, not the broker, are
the record of work to do: the sweeper picks up any the broker loses).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from ipaddress import ip_address as parse_ip

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from medikeep.accounts.choices import UserRole
from notifications import events
from notifications.models import (
    Delivery,
    DeliveryStatus,
    NotificationPreference,
    SignInAddress,
)
from patients.models import Patient, PatientShare

logger = logging.getLogger("notifications")

DEDUP_KEY_MAX = 200  # Delivery.dedup_key


def notify(
    *,
    event_type: str,
    user_ids: Iterable[int],
    data: dict,
    dedup_key_prefix: str | None = None,
) -> list[Delivery]:
    """Queues a message of `event_type` to each of `user_ids` on every channel where they
    enabled it; returns the Delivery rows created (none when nobody subscribed).

    `data` is the event's facts as JSON-able values (datetimes allowed); the message text comes
    from `events.render`. With `dedup_key_prefix`, each row's key is "<prefix>:<channel id>",
    unique in the database: raising the same event again (a retried task, a second save)
    creates no second message on any channel. Inactive accounts get nothing; admin-only
    events (backups) reach administrators only. Raises events.UnknownEventType for a type
    not in the registry.
    """
    event = events.get(event_type)
    recipients = {int(user_id) for user_id in user_ids if user_id is not None}
    if not recipients:
        return []
    preferences = NotificationPreference.objects.filter(
        event_type=event_type,
        is_enabled=True,
        user_id__in=recipients,
        user__is_active=True,
        channel__is_enabled=True,
        # A preference always names its user's own channel; checked anyway, cheaply, so a
        # row made by hand in the admin can never send one user's events to another.
        channel__user_id=F("user_id"),
    )
    if event.admin_only:
        preferences = preferences.filter(user__role=UserRole.ADMIN)
    preferences = list(preferences.select_related("channel").order_by("user_id", "channel_id"))
    if not preferences:
        return []
    title, body = events.render(event_type, data)
    # Stored as JSON: datetimes and decimals become strings once, here.
    stored = json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder))
    rows = [
        Delivery(
            user_id=preference.user_id,
            channel=preference.channel,
            channel_name=preference.channel.name,
            channel_type=preference.channel.channel_type,
            event_type=event_type,
            event_data=stored,
            title=title,
            body=body,
            status=DeliveryStatus.PENDING,
            dedup_key=(
                f"{dedup_key_prefix}:{preference.channel_id}"[:DEDUP_KEY_MAX]
                if dedup_key_prefix
                else None
            ),
        )
        for preference in preferences
    ]
    created = _save(rows, deduplicated=bool(dedup_key_prefix))
    ids = [row.pk for row in created]
    if ids:
        transaction.on_commit(lambda: _enqueue(ids))
        logger.info("event %s: %d message(s) queued", event_type, len(ids))
    return created


def _save(rows: list[Delivery], *, deduplicated: bool) -> list[Delivery]:
    if not deduplicated:
        return Delivery.objects.bulk_create(rows)
    keys = [row.dedup_key for row in rows]
    taken = set(Delivery.objects.filter(dedup_key__in=keys).values_list("dedup_key", flat=True))
    fresh = [row for row in rows if row.dedup_key not in taken]
    if not fresh:
        return []
    # ignore_conflicts: a concurrent raiser of the same event may insert a key in between.
    # Such rows come back from the read below too; queueing a row twice is harmless (the
    # delivery task claims a row once), sending it twice is not possible.
    Delivery.objects.bulk_create(fresh, ignore_conflicts=True)
    return list(Delivery.objects.filter(dedup_key__in=[row.dedup_key for row in fresh]))


def _enqueue(ids: list[int]) -> None:
    # Imported here: delivery imports the tasks module, which imports services.
    from notifications import delivery

    try:
        delivery.enqueue(ids)
    except Exception:
        # The change is committed and the rows are saved: a broker that is down must not
        # turn it into an error. The sweeper queues pending rows again.
        logger.exception("notifications: %d message(s) left for the sweeper", len(ids))


# --- recipients -----------------------------------------------------------------------------


def patient_audience(patient_id: int, *, exclude_user_id: int | None = None) -> list[int]:
    """The users a patient's news concerns: its owner and everyone holding a share in force
    (active and not expired) at any level; without `exclude_user_id` (who made the change)."""
    owner = Patient.objects.filter(pk=patient_id).values_list("owner_id", flat=True)
    grantees = (
        PatientShare.objects.in_force()
        .filter(patient_id=patient_id)
        .values_list("grantee_id", flat=True)
    )
    users = {*owner, *grantees}
    users.discard(exclude_user_id)
    users.discard(None)
    return sorted(users)


def display_name(user) -> str:
    """How a user is named in a message to someone else."""
    if user is None:
        return ""
    return (getattr(user, "full_name", "") or "").strip() or user.get_username()


# --- sign-in addresses ----------------------------------------------------------------------


def normalised_address(address: str | None) -> str | None:
    """The address in one canonical spelling (an IPv4 address carried in IPv6 as IPv4), or
    None when it is not an IP address."""
    try:
        parsed = parse_ip((address or "").strip())
    except ValueError:
        return None
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped or parsed)


def sign_in_address_record(*, user, ip_address: str | None) -> bool:
    """Notes that `user` signed in from `ip_address`; True when the address is new for them
    and they had signed in from elsewhere before. The first address ever recorded for an
    account is its baseline, not news: otherwise every account would hear of its first
    sign-in after this feature arrived."""
    address = normalised_address(ip_address)
    if address is None:
        return False
    now = timezone.now()
    known = SignInAddress.objects.filter(user=user)
    if known.filter(ip_address=address).update(last_seen_at=now):
        return False
    had_others = known.exists()
    try:
        with transaction.atomic():  # a savepoint: a concurrent sign-in may have won the race
            SignInAddress.objects.create(user=user, ip_address=address, last_seen_at=now)
    except IntegrityError:
        return False
    return had_others
