"""Sending outbox rows (notifications/delivery.py): claim, send, retry, cancel, sweep, prune.

Every send goes over real HTTP to the loopback sink (a webhook channel); tasks run eagerly.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from notifications import delivery, reminders, tasks
from notifications.models import Delivery, NotificationChannel
from notifications.tests.reminder_helpers import (
    medication,
    reminded_channel,
    subscribe,
    webhook_channel,
)
from patients.models import PatientShare
from records.services.doses import read_dose_answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def retry_settings(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 3600
    return settings


def outbox_row(user, channel, **fields) -> Delivery:
    fields.setdefault("event_type", "password_changed")
    fields.setdefault("title", "Password changed")
    fields.setdefault("body", "Your password was changed.")
    return Delivery.objects.create(
        user=user,
        channel=channel,
        channel_name=channel.name,
        channel_type=channel.channel_type,
        **fields,
    )


def event_row(user, sink, **fields):
    channel = webhook_channel(user, f"{sink.url}/hook")
    subscribe(user, channel, event_type=fields.get("event_type", "password_changed"))
    return outbox_row(user, channel, **fields)


def current_slot(patient, user, sink, **med_fields):
    """A reminder row for a dose due this very minute, planned as the tick would."""
    now = timezone.now()
    hhmm = now.astimezone(reminders.facility_zone()).strftime("%H:%M")
    med = medication(patient, [hhmm], **med_fields)
    channel = reminded_channel(user, f"{sink.url}/hook")
    (row_id,) = reminders.plan(now)
    return Delivery.objects.get(pk=row_id), med, channel


# --- sending -----------------------------------------------------------------------------------


def test_a_due_row_is_sent_once_with_its_idempotency_key(alice, http_sink):
    row = event_row(alice, http_sink)
    assert delivery.deliver(row.pk) == "sent"
    assert delivery.deliver(row.pk) == "skipped"

    (request,) = http_sink.wait_for(1)
    assert request.headers["x-medikeep-delivery"] == f"delivery-{row.pk}"
    assert "Password changed" in request.text
    row.refresh_from_db()
    assert row.status == "sent" and row.sent_at is not None
    assert row.attempt_count == 1 and row.lease_until is None and row.error_message == ""
    channel = NotificationChannel.objects.get(pk=row.channel_id)
    assert channel.total_notifications_sent == 1 and channel.last_used_at == row.sent_at


def test_a_reminder_carries_its_dedup_key_as_the_idempotency_key(alice, patient, http_sink):
    row, _, _ = current_slot(patient, alice, http_sink)
    assert delivery.deliver(row.pk) == "sent"
    (request,) = http_sink.wait_for(1)
    assert request.headers["x-medikeep-delivery"] == row.dedup_key


def test_a_row_held_by_a_live_lease_or_not_yet_due_is_left_alone(alice, http_sink):
    now = timezone.now()
    held = event_row(alice, http_sink, status="sending", lease_until=now + dt.timedelta(minutes=1))
    early = outbox_row(alice, held.channel, send_after=now + dt.timedelta(minutes=5))
    backing_off = outbox_row(alice, held.channel, next_attempt_at=now + dt.timedelta(minutes=5))
    for row in (held, early, backing_off):
        assert delivery.deliver(row.pk) == "skipped"
    assert http_sink.requests == []


def test_an_expired_lease_is_taken_over(alice, http_sink):
    row = event_row(
        alice,
        http_sink,
        status="sending",
        attempt_count=1,
        lease_until=timezone.now() - dt.timedelta(seconds=1),
    )
    assert delivery.deliver(row.pk) == "sent"
    row.refresh_from_db()
    assert row.status == "sent" and row.attempt_count == 2
    assert len(http_sink.wait_for(1)) == 1


def test_of_two_claims_on_a_row_only_one_wins_and_a_lost_lease_records_nothing(alice, http_sink):
    row = event_row(alice, http_sink)
    now = timezone.now()
    first = delivery.claim(row.pk, now)
    assert first is not None
    assert delivery.claim(row.pk, now) is None
    # The first worker overran its lease and a second took the row over: the first one's
    # outcome update no longer matches anything.
    later = first + dt.timedelta(seconds=1)
    second = delivery.claim(row.pk, later)
    assert second is not None and second != first
    assert delivery._mine(row.pk, first).update(status="sent") == 0
    assert delivery._mine(row.pk, second).update(status="sent") == 1


def test_a_failed_send_backs_off_exponentially_then_fails(retry_settings, alice, http_sink):
    http_sink.respond(500, "down")
    row = event_row(alice, http_sink)
    waits = []
    for attempt in (1, 2):
        before = timezone.now()
        assert delivery.deliver(row.pk) == "retrying"
        row.refresh_from_db()
        assert row.status == "pending" and row.attempt_count == attempt
        assert row.error_message and row.lease_until is None
        waits.append(row.next_attempt_at - before)
        # Not due yet: a second task (the eager countdown one included) changes nothing.
        assert delivery.deliver(row.pk) == "skipped"
        Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert dt.timedelta(seconds=30) <= waits[0] < dt.timedelta(seconds=35)
    assert dt.timedelta(seconds=60) <= waits[1] < dt.timedelta(seconds=65)
    assert delivery.deliver(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == "failed" and row.attempt_count == 3 and row.next_attempt_at is None
    assert len(http_sink.requests) == 3
    assert NotificationChannel.objects.get(pk=row.channel_id).total_notifications_sent == 0


def test_a_retry_after_a_failure_can_succeed(retry_settings, alice, http_sink):
    http_sink.respond(503, "busy", times=1)
    row = event_row(alice, http_sink)
    assert delivery.deliver(row.pk) == "retrying"
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver(row.pk) == "sent"
    row.refresh_from_db()
    assert row.status == "sent" and row.attempt_count == 2 and row.error_message == ""


def test_retry_delays_double_up_to_the_cap(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 10
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 50
    assert [delivery.retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [
        10,
        20,
        40,
        50,
        50,
    ]


def test_unreadable_channel_settings_fail_at_once(retry_settings, alice, http_sink):
    row = event_row(alice, http_sink)
    NotificationChannel.objects.filter(pk=row.channel_id).update(config_encrypted="not-a-token")
    assert delivery.deliver(row.pk) == "failed"
    row.refresh_from_db()
    assert row.attempt_count == 1 and "cannot be read" in row.error_message
    assert http_sink.requests == []


# --- no longer wanted ----------------------------------------------------------------------------


def assert_cancelled(row, sink, words: str):
    assert delivery.deliver(row.pk) == "cancelled"
    row.refresh_from_db()
    assert row.status == "cancelled" and words in row.error_message
    assert row.attempt_count == 0 and row.lease_until is None
    assert sink.requests == []


def test_a_disabled_channel_cancels(alice, http_sink):
    row = event_row(alice, http_sink)
    NotificationChannel.objects.filter(pk=row.channel_id).update(is_enabled=False)
    assert_cancelled(row, http_sink, "disabled")


def test_a_deleted_channel_cancels_and_the_history_keeps_its_name(alice, http_sink):
    row = event_row(alice, http_sink)
    NotificationChannel.objects.filter(pk=row.channel_id).delete()
    assert_cancelled(row, http_sink, "deleted")
    assert row.channel_name.startswith("hook")


def test_an_inactive_recipient_cancels(alice, http_sink):
    row = event_row(alice, http_sink)
    alice.is_active = False
    alice.save()
    assert_cancelled(row, http_sink, "inactive")


def test_a_preference_turned_off_cancels(alice, http_sink):
    row = event_row(alice, http_sink)
    row.channel.preferences.filter(event_type="password_changed").update(is_enabled=False)
    assert_cancelled(row, http_sink, "no longer enabled")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"status": "stopped"}, "no longer active"),
        ({"reminder_enabled": False}, "turned off"),
        ("another time", "schedule changed"),
        ({"reminder_days": ["not today"]}, "schedule changed"),
    ],
)
def test_a_changed_medication_cancels_its_reminders(alice, patient, http_sink, change, words):
    row, med, _ = current_slot(patient, alice, http_sink)
    slot_day = row.scheduled_for.astimezone(reminders.facility_zone()).weekday()
    if change == "another time":
        later = row.scheduled_for + dt.timedelta(hours=12)
        change = {"reminder_times": [later.astimezone(reminders.facility_zone()).strftime("%H:%M")]}
    elif "reminder_days" in change:
        change = {"reminder_days": [(slot_day + 1) % 7]}
    type(med).objects.filter(pk=med.pk).update(**change)
    assert_cancelled(row, http_sink, words)


def test_a_deleted_medication_cancels_its_reminders(alice, patient, http_sink):
    row, med, _ = current_slot(patient, alice, http_sink)
    med.delete()
    assert_cancelled(row, http_sink, "deleted")


def test_a_revoked_share_cancels_the_grantees_reminders(alice, bob, shared_patient, http_sink):
    row, _, _ = current_slot(shared_patient, bob, http_sink)
    PatientShare.objects.filter(grantee=bob).update(is_active=False)
    assert row.user_id == bob.pk
    assert_cancelled(row, http_sink, "no longer has access")


def test_a_reminder_long_past_its_dose_is_cancelled(settings, alice, patient, http_sink):
    row, _, _ = current_slot(patient, alice, http_sink)
    settings.REMINDER_STALE_MINUTES = 0
    Delivery.objects.filter(pk=row.pk).update(
        scheduled_for=row.scheduled_for - dt.timedelta(days=1),
        send_after=row.send_after - dt.timedelta(days=1),
    )
    assert_cancelled(row, http_sink, "Too late")


def test_lab_results_go_only_to_who_still_sees_the_patient(alice, bob, shared_patient, http_sink):
    row = event_row(
        bob,
        http_sink,
        event_type="lab_result_available",
        event_data={"patient_id": shared_patient.pk},
    )
    PatientShare.objects.filter(grantee=bob).update(is_active=False)
    assert_cancelled(row, http_sink, "no longer has access")


def test_a_test_reminder_needs_no_preference(alice, http_sink):
    row = event_row(alice, http_sink, is_test=True, event_type="medication_reminder_due")
    row.channel.preferences.all().delete()
    assert delivery.deliver(row.pk) == "sent"


# --- sweeper, enqueue, prune ---------------------------------------------------------------------


def test_the_sweeper_requeues_rows_a_lost_task_left_behind(retry_settings, alice, http_sink):
    now = timezone.now()
    long_ago = now - dt.timedelta(minutes=5)
    lost = event_row(alice, http_sink)
    Delivery.objects.filter(pk=lost.pk).update(created_at=long_ago)
    channel = lost.channel
    fresh = outbox_row(alice, channel)  # its own task is presumably still queued
    died = outbox_row(
        alice, channel, status="sending", attempt_count=1, lease_until=now - dt.timedelta(seconds=1)
    )
    died_last_time = outbox_row(
        alice, channel, status="sending", attempt_count=3, lease_until=now - dt.timedelta(seconds=1)
    )
    still_held = outbox_row(
        alice, channel, status="sending", attempt_count=1, lease_until=now + dt.timedelta(minutes=1)
    )
    retry_later = outbox_row(
        alice, channel, attempt_count=1, next_attempt_at=now + dt.timedelta(minutes=1)
    )
    Delivery.objects.filter(pk__in=[retry_later.pk, still_held.pk]).update(created_at=long_ago)

    assert tasks.sweep_deliveries() == {"requeued": 2, "failed": 1}

    status = dict(Delivery.objects.values_list("pk", "status"))
    assert status[lost.pk] == status[died.pk] == "sent"
    assert status[fresh.pk] == status[retry_later.pk] == "pending"
    assert status[still_held.pk] == "sending"
    assert status[died_last_time.pk] == "failed"
    assert len(http_sink.wait_for(2)) == 2


def test_enqueue_delivers_every_row_in_batches(alice, http_sink):
    first = event_row(alice, http_sink)
    rows = [first] + [outbox_row(alice, first.channel) for _ in range(delivery.ENQUEUE_BATCH + 3)]
    assert delivery.enqueue(row.pk for row in rows) == len(rows)
    assert Delivery.objects.filter(status="sent").count() == len(rows)
    keys = {r.headers["x-medikeep-delivery"] for r in http_sink.wait_for(len(rows))}
    assert keys == {f"delivery-{row.pk}" for row in rows}


def test_the_planner_task_plans_and_sends_the_due_reminders(alice, bob, shared_patient, http_sink):
    hhmm = timezone.now().astimezone(reminders.facility_zone()).strftime("%H:%M")
    medication(shared_patient, [hhmm], medication_name="Metformin")
    reminded_channel(alice, f"{http_sink.url}/alice")
    reminded_channel(bob, f"{http_sink.url}/bob")
    assert tasks.plan_reminders() == 2
    assert tasks.plan_reminders() == 0
    received = http_sink.wait_for(2)
    assert sorted(r.route for r in received) == ["/alice", "/bob"]
    assert all("Metformin" in r.text for r in received)
    assert Delivery.objects.filter(status="sent").count() == 2


def test_prune_deletes_finished_rows_past_the_history_window(settings, alice, http_sink):
    settings.NOTIFICATION_HISTORY_DAYS = 30
    old = timezone.now() - dt.timedelta(days=31)
    channel = event_row(alice, http_sink).channel
    old_rows = {
        status: outbox_row(alice, channel, status=status)
        for status in ("sent", "failed", "cancelled", "pending")
    }
    Delivery.objects.filter(pk__in=[r.pk for r in old_rows.values()]).update(created_at=old)
    assert tasks.prune_history() == 3
    left = set(Delivery.objects.values_list("status", flat=True))
    assert left == {"pending"}
    assert Delivery.objects.count() == 2


# --- answer links ------------------------------------------------------------------------------


def test_a_reminder_carries_the_recipients_own_answer_links_when_they_may_answer(
    alice, bob, shared_patient, http_sink, anon
):
    mine, med, _ = current_slot(shared_patient, alice, http_sink)
    channel = reminded_channel(bob, f"{http_sink.url}/bob")
    reminders.plan()
    viewer = Delivery.objects.get(channel=channel)
    assert delivery.deliver(mine.pk) == "sent" and delivery.deliver(viewer.pk) == "sent"

    by_route = {r.route: r.json()["message"] for r in http_sink.wait_for(2)}
    owner_text = by_route["/hook"]
    links = [word for word in owner_text.split() if "/api/v1/doses/answer?token=" in word]
    assert len(links) == 2
    assert "/doses/answer" not in by_route["/bob"]  # VIEW cannot answer: no links
    mine.refresh_from_db()
    assert "/doses/answer" not in mine.body  # the stored history keeps no credential

    actions = {
        read_dose_answer(parse_qs(urlsplit(link).query)["token"][0]).action: link for link in links
    }
    assert set(actions) == {"taken", "skipped"}
    taken = actions["taken"]
    answered = anon.post(taken[taken.index("/api/v1/") :])
    assert answered.status_code == 201, answered.content
    assert med.doses.get().status == "taken"
