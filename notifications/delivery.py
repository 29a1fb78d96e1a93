"""Sending the outbox: claim a Delivery row, check it is still wanted, send it, record the outcome.

The database row, not the broker message, is the work to do. A task only carries a row id;
the same id may be queued twice (two planners, the sweeper, a retried task) and the claim
makes all but one of those a no-op.

What "exactly once" means here, and where it stops:
- A row is claimed by one conditional UPDATE (pending and due → sending, with a lease). Two
  workers can never both hold a row, and a sent row is never claimed again.
- A worker that dies after claiming leaves the row in `sending`; once the lease runs out the
  sweeper queues it again, so nothing is dropped.
- If the worker died *during* the send, nobody can know whether the message arrived: the row is
  sent again. Every send carries the row's idempotency key (the reminder's dedup key, else
  `delivery-<id>`), for webhooks as the `X-MediKeep-Delivery` header, so a receiver that
  remembers keys drops the repeat. That one case is at-least-once; everything else is once.
- A worker that overruns its lease loses the row to another worker; its late result is then not
  recorded (the outcome update is fenced on the lease it took). The lease therefore outlasts the
  longest send by far (NOTIFICATION_LEASE_SECONDS, 5 minutes by default).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus, NotificationChannel

logger = logging.getLogger("medikeep.notifications")

# How many ids one `deliver_batch` task carries when many rows are queued at once (the planner
# at a busy minute); a single id goes as one `deliver` task.
ENQUEUE_BATCH = 50
SWEEP_LIMIT = 10_000


def enqueue(ids) -> int:
    """Queues delivery tasks for these rows; returns how many ids were queued."""
    from notifications import tasks

    ids = list(ids)
    for start in range(0, len(ids), ENQUEUE_BATCH):
        chunk = ids[start : start + ENQUEUE_BATCH]
        if len(chunk) == 1:
            tasks.deliver.delay(chunk[0])
        else:
            tasks.deliver_batch.delay(chunk)
    return len(ids)


def retry_delay(attempt: int) -> timedelta:
    """The wait after the `attempt`-th failed send: base, 2·base, 4·base … up to the cap."""
    seconds = settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0)
    return timedelta(seconds=min(seconds, settings.NOTIFICATION_RETRY_MAX_SECONDS))


def _due(now: datetime) -> Q:
    return (
        Q(status=DeliveryStatus.PENDING)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & (Q(send_after__isnull=True) | Q(send_after__lte=now))
    )


def _lease_expired(now: datetime) -> Q:
    return Q(
        status=DeliveryStatus.SENDING,
        lease_until__lt=now,
        attempt_count__lt=settings.NOTIFICATION_MAX_ATTEMPTS,
    )


def claim(delivery_id: int, now: datetime) -> datetime | None:
    """Takes the row for this worker; returns the lease's end, or None when it is not ours.

    One UPDATE decides: of two workers racing for a row, the database lets exactly one match.
    """
    lease_until = now + timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    taken = (
        Delivery.objects.filter(pk=delivery_id)
        .filter(_due(now) | _lease_expired(now))
        .update(
            status=DeliveryStatus.SENDING,
            lease_until=lease_until,
            attempt_count=F("attempt_count") + 1,
        )
    )
    return lease_until if taken else None


def unwanted_reason(delivery: Delivery, now: datetime) -> str | None:
    """Why this row should no longer be sent, or None. Checked after the claim, at send time."""
    from notifications import events, reminders
    from notifications.models import NotificationPreference
    from patients.access import can_access

    channel = delivery.channel
    if channel is None:
        return "The channel was deleted."
    if not channel.is_enabled:
        return "The channel is disabled."
    user = delivery.user
    if user is None or not user.is_active or channel.user_id != user.pk:
        return "The recipient's account no longer exists or is inactive."
    if delivery.is_test:
        return None  # asked for just now by the person it goes to
    if not NotificationPreference.objects.filter(
        user_id=user.pk, channel_id=channel.pk, event_type=delivery.event_type, is_enabled=True
    ).exists():
        return "This event type is no longer enabled for the channel."
    event = events.EVENT_TYPES.get(delivery.event_type)
    if event is not None and event.admin_only and not user.is_admin:
        return "This event type goes to administrators only."
    if delivery.event_type == reminders.REMINDER_EVENT:
        return reminders.unwanted_reason(delivery, now)
    patient_id = (delivery.event_data or {}).get("patient_id")
    if (
        delivery.event_type in PATIENT_SCOPED_EVENTS
        and patient_id is not None
        and not can_access(user, patient_id)
    ):
        return "The recipient no longer has access to this patient."
    return None


# Events about a patient's records: sent only while the recipient may still see the patient.
# (share_revoked is about losing access, so it is not in this set.)
PATIENT_SCOPED_EVENTS = frozenset({"lab_result_available"})


def _mine(delivery_id: int, lease_until: datetime):
    """The row, only while this worker's lease on it still stands."""
    return Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.SENDING, lease_until=lease_until
    )


def _send(delivery: Delivery):
    """Decrypts the channel's settings and sends; returns (ok, error, permanent)."""
    from notifications import channels, reminders, sending

    try:
        config = channels.channel_config(delivery.channel)
    except Exception:  # undecryptable (the key changed) or unreadable: retrying cannot help
        logger.warning("Delivery %s: the channel's settings cannot be read", delivery.pk)
        return False, "The channel's settings cannot be read; save the channel again.", True
    title, body = delivery.title, delivery.body
    if delivery.event_type == reminders.REMINDER_EVENT and not delivery.is_test:
        title, body = reminders.text_to_send(delivery)
    try:
        result = sending.send(
            delivery.channel.channel_type,
            config,
            title=title,
            body=body,
            idempotency_key=delivery.dedup_key or f"delivery-{delivery.pk}",
        )
    except Exception:  # send() reports failures itself; this is a bug, logged without secrets
        logger.exception("Delivery %s: the send raised", delivery.pk)
        return False, "Unexpected error while sending.", False
    return result.ok, result.error, False


def deliver(delivery_id: int) -> str:
    """Sends one row if it is due and nobody else holds it; returns what happened."""
    now = timezone.now()
    lease_until = claim(delivery_id, now)
    if lease_until is None:
        return "skipped"
    delivery = Delivery.objects.select_related("channel", "user").filter(pk=delivery_id).first()
    if delivery is None:  # pruned or deleted with its user in the meantime
        return "skipped"
    reason = unwanted_reason(delivery, now)
    if reason:
        # A cancellation is not an attempt: give back the count the claim took.
        _mine(delivery_id, lease_until).update(
            status=DeliveryStatus.CANCELLED,
            lease_until=None,
            attempt_count=F("attempt_count") - 1,
            error_message=reason[:500],
        )
        return "cancelled"

    ok, error, permanent = _send(delivery)
    finished = timezone.now()
    if ok:
        with transaction.atomic():
            recorded = _mine(delivery_id, lease_until).update(
                status=DeliveryStatus.SENT,
                sent_at=finished,
                lease_until=None,
                next_attempt_at=None,
                error_message="",
            )
            if recorded:
                NotificationChannel.objects.filter(pk=delivery.channel_id).update(
                    total_notifications_sent=F("total_notifications_sent") + 1,
                    last_used_at=finished,
                )
        if not recorded:
            logger.warning("Delivery %s was sent after its lease ran out", delivery_id)
        return "sent"

    error = (error or "The send failed.")[:500]
    if permanent or delivery.attempt_count >= settings.NOTIFICATION_MAX_ATTEMPTS:
        _mine(delivery_id, lease_until).update(
            status=DeliveryStatus.FAILED,
            lease_until=None,
            next_attempt_at=None,
            error_message=error,
        )
        return "failed"
    delay = retry_delay(delivery.attempt_count)
    if _mine(delivery_id, lease_until).update(
        status=DeliveryStatus.PENDING,
        lease_until=None,
        next_attempt_at=finished + delay,
        error_message=error,
    ):
        # The sweeper would find it too; this only makes the retry punctual.
        from notifications import tasks

        tasks.deliver.apply_async((delivery_id,), countdown=delay.total_seconds())
    return "retrying"


def sweep(now: datetime | None = None) -> dict:
    """Queues again what a lost task left behind: rows due for a while and expired leases.

    A row the worker died on during its last attempt is marked failed: it may have arrived,
    and sending it once more could not be called a retry any longer.
    """
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.NOTIFICATION_SWEEP_GRACE_SECONDS)
    gave_up = Delivery.objects.filter(
        status=DeliveryStatus.SENDING,
        lease_until__lt=now,
        attempt_count__gte=settings.NOTIFICATION_MAX_ATTEMPTS,
    ).update(
        status=DeliveryStatus.FAILED,
        lease_until=None,
        error_message="The worker stopped during the last attempt; whether it arrived is unknown.",
    )
    waiting = (
        Q(status=DeliveryStatus.PENDING)
        & (Q(next_attempt_at__lte=grace) | Q(next_attempt_at__isnull=True, created_at__lte=grace))
        & (Q(send_after__isnull=True) | Q(send_after__lte=now))
    )
    ids = list(
        Delivery.objects.filter(waiting | _lease_expired(now))
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    enqueue(ids)
    return {"requeued": len(ids), "failed": gave_up}


def prune(now: datetime | None = None, days: int | None = None) -> int:
    """Deletes finished rows older than the history window; returns how many."""
    now = now or timezone.now()
    days = settings.NOTIFICATION_HISTORY_DAYS if days is None else days
    old = Delivery.objects.filter(
        created_at__lt=now - timedelta(days=days),
        status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED],
    )
    deleted = 0
    while True:
        chunk = list(old.order_by("id").values_list("id", flat=True)[:5000])
        if not chunk:
            return deleted
        deleted += Delivery.objects.filter(pk__in=chunk).delete()[0]
