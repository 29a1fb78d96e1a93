"""The reminder planner: which rows a tick writes (notifications/reminders.py).

The planner is called with an explicit `now`, so every case is at a known facility-local time;
nothing here sends (test_delivery.py covers that).
"""

from __future__ import annotations

import datetime as dt

import pytest

from notifications import reminders
from notifications.models import Delivery
from notifications.tests.reminder_helpers import local, medication, reminded_channel, subscribe
from patients.tests.factories import PatientShareFactory

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"  # never contacted: nothing is sent here


@pytest.fixture
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    return "Europe/Berlin"


def keys() -> set[str]:
    return set(Delivery.objects.values_list("dedup_key", flat=True))


def test_a_slot_is_planned_at_its_time_once_per_channel(alice, patient):
    first = reminded_channel(alice, HOOK)
    second = reminded_channel(alice, HOOK)
    med = medication(patient, ["08:00", "20:00"], medication_name="Aspirin", dosage="100 mg")
    at = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)

    assert reminders.plan(at - dt.timedelta(minutes=1)) == []
    ids = reminders.plan(at)

    rows = list(Delivery.objects.order_by("channel_id"))
    assert sorted(ids) == sorted(row.pk for row in rows)
    assert [row.channel_id for row in rows] == [first.pk, second.pk]
    for row in rows:
        assert row.dedup_key == f"reminder:{med.pk}:2026-05-04T08:00:00+00:00:{row.channel_id}"
        assert row.scheduled_for == at and row.send_after == at
        assert row.status == "pending" and row.user_id == alice.pk and not row.is_test
        assert row.event_type == "medication_reminder_due"
        assert row.event_data["medication_id"] == med.pk
        assert row.event_data["scheduled_time"] == "08:00"
        assert "Aspirin" in row.title and "100 mg" in row.body and "08:00" in row.body


def test_replanning_the_same_minute_or_the_next_adds_nothing(alice, patient):
    reminded_channel(alice, HOOK)
    medication(patient, ["08:00"])
    at = dt.datetime(2026, 5, 4, 8, 0, 20, tzinfo=dt.UTC)
    assert len(reminders.plan(at)) == 1
    assert reminders.plan(at) == []
    assert reminders.plan(at + dt.timedelta(minutes=1)) == []
    assert Delivery.objects.count() == 1


def test_a_second_planner_that_missed_the_rows_is_stopped_by_the_unique_key(alice, patient):
    # A row dated long before the tick escapes the planner's own "already written" read, as
    # a row a racing planner is still committing would: the insert itself must refuse it.
    reminded_channel(alice, HOOK)
    medication(patient, ["08:00"])
    assert len(reminders.plan(NOW)) == 1
    Delivery.objects.update(created_at=NOW - dt.timedelta(days=365))
    assert reminders.plan(NOW) == []
    assert Delivery.objects.count() == 1


def test_remind_before_moves_the_send_time_not_the_slot(alice, patient):
    early = reminded_channel(alice, HOOK, before=30)
    on_time = reminded_channel(alice, HOOK)
    medication(patient, ["08:00"])
    dose = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)

    reminders.plan(dose - dt.timedelta(minutes=31))
    assert Delivery.objects.count() == 0
    reminders.plan(dose - dt.timedelta(minutes=30))
    row = Delivery.objects.get()
    assert row.channel_id == early.pk
    assert row.scheduled_for == dose and row.send_after == dose - dt.timedelta(minutes=30)
    reminders.plan(dose)
    assert set(Delivery.objects.values_list("channel_id", flat=True)) == {early.pk, on_time.pk}


def test_a_late_tick_catches_up_within_the_window_only(settings, alice, patient):
    settings.REMINDER_CATCH_UP_MINUTES = 10
    reminded_channel(alice, HOOK)
    medication(patient, ["08:00"])
    medication(patient, ["07:40"])
    reminders.plan(dt.datetime(2026, 5, 4, 8, 5, tzinfo=dt.UTC))
    # 08:00 was 5 minutes ago: planned; 07:40 was 25 minutes ago: past the window.
    assert [row.event_data["scheduled_time"] for row in Delivery.objects.all()] == ["08:00"]


def test_weekday_rules(alice, patient):
    reminded_channel(alice, HOOK)
    mondays = medication(patient, ["08:00"], reminder_days=[0])
    weekend = medication(patient, ["08:00"], reminder_days=[5, 6])
    every_day = medication(patient, ["08:00"], reminder_days=[])
    monday = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)
    assert monday.weekday() == 0
    reminders.plan(monday)
    reminders.plan(monday + dt.timedelta(days=1))
    reminders.plan(monday + dt.timedelta(days=5))  # Saturday
    planned = {
        (row.event_data["medication_id"], row.scheduled_for.date().isoformat())
        for row in Delivery.objects.all()
    }
    assert planned == {
        (mondays.pk, "2026-05-04"),
        (every_day.pk, "2026-05-04"),
        (every_day.pk, "2026-05-05"),
        (every_day.pk, "2026-05-09"),
        (weekend.pk, "2026-05-09"),
    }


def test_the_effective_period_bounds_the_days_inclusively(alice, patient):
    reminded_channel(alice, HOOK)
    day = dt.date(2026, 5, 4)
    inside = medication(patient, ["08:00"], effective_period_start=day, effective_period_end=day)
    medication(patient, ["08:00"], effective_period_start=day + dt.timedelta(days=1))
    medication(patient, ["08:00"], effective_period_end=day - dt.timedelta(days=1))
    reminders.plan(dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC))
    assert [row.event_data["medication_id"] for row in Delivery.objects.all()] == [inside.pk]


def test_times_are_facility_local(berlin, alice, patient):
    reminded_channel(alice, HOOK)
    medication(patient, ["08:00"])
    summer = local(berlin, 2026, 7, 1, 8, 0)
    reminders.plan(summer.astimezone(dt.UTC) - dt.timedelta(hours=2))  # 08:00 UTC is 10:00 there
    assert Delivery.objects.count() == 0
    reminders.plan(summer)
    row = Delivery.objects.get()
    assert row.scheduled_for == dt.datetime(2026, 7, 1, 6, 0, tzinfo=dt.UTC)
    assert row.event_data["scheduled_date"] == "2026-07-01"


def test_spring_forward_a_skipped_time_is_reminded_once_an_hour_later(berlin, alice, patient):
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    reminded_channel(alice, HOOK)
    skipped = medication(patient, ["02:30"])
    both = medication(patient, ["02:30", "03:30"])
    for minute in range(0, 180):
        reminders.plan(dt.datetime(2026, 3, 29, 0, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minute))
    by_med = {}
    for row in Delivery.objects.all():
        by_med.setdefault(row.event_data["medication_id"], []).append(row.scheduled_for)
    three_thirty = local(berlin, 2026, 3, 29, 3, 30)
    assert by_med[skipped.pk] == [three_thirty]
    # 02:30 (shifted) and 03:30 are the same instant: one slot, one reminder.
    assert by_med[both.pk] == [three_thirty]


def test_fall_back_a_repeated_time_is_reminded_on_its_first_occurrence_only(berlin, alice, patient):
    # 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    reminded_channel(alice, HOOK)
    medication(patient, ["02:30"])
    for minute in range(0, 240):
        reminders.plan(
            dt.datetime(2026, 10, 24, 23, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
        )
    row = Delivery.objects.get()
    assert row.scheduled_for == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # 02:30 CEST


def test_candidate_slots_match_the_dose_schedule(berlin):
    """The planner's window inversion agrees with the dose log's own slot rule on DST days."""
    dose_schedule = pytest.importorskip("records.services.dose_schedule")
    from types import SimpleNamespace

    med = SimpleNamespace(
        status="active",
        reminder_enabled=True,
        reminder_times=["00:30", "01:30", "02:00", "02:30", "03:00", "03:30", "23:59"],
        reminder_days=None,
        effective_period_start=None,
        effective_period_end=None,
    )
    zone = reminders.facility_zone()
    for start in (
        dt.datetime(2026, 3, 28, 22, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 24, 21, 0, tzinfo=dt.UTC),
    ):
        end = start + dt.timedelta(hours=8)
        found = reminders.candidate_slots(start - dt.timedelta(microseconds=1), end, zone)
        planned = {
            slot for hhmm in med.reminder_times for _, slot in found.get(hhmm, ()) if slot < end
        }
        assert planned == set(dose_schedule.slots_between(med, start, end))


# --- who gets a row ---------------------------------------------------------------------------

NOW = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)


def planned_users() -> set[str]:
    return {row.user.username for row in Delivery.objects.select_related("user")}


def test_the_owner_and_every_share_in_force_get_reminders(
    alice, bob, carol, dave, mallory, shared_patient
):
    for user in (alice, bob, carol, dave, mallory):
        reminded_channel(user, HOOK)
    medication(shared_patient, ["08:00"])
    reminders.plan(NOW)
    assert planned_users() == {"alice", "bob", "carol", "dave"}  # mallory has no share


def test_revoked_and_expired_shares_get_none(alice, bob, carol, patient):
    PatientShareFactory(patient=patient, grantee=bob, is_active=False)
    PatientShareFactory(patient=patient, grantee=carol, expires_at=NOW - dt.timedelta(minutes=1))
    for user in (alice, bob, carol):
        reminded_channel(user, HOOK)
    medication(patient, ["08:00"])
    reminders.plan(NOW)
    assert planned_users() == {"alice"}


@pytest.mark.parametrize(
    "medication_fields",
    [{"status": "stopped"}, {"status": "on-hold"}, {"reminder_enabled": False}],
)
def test_inactive_medications_get_none(alice, patient, medication_fields):
    reminded_channel(alice, HOOK)
    medication(patient, ["08:00"], **medication_fields)
    assert reminders.plan(NOW) == []


def test_disabled_channels_and_preferences_and_inactive_accounts_get_none(
    alice, bob, carol, dave, shared_patient
):
    reminded_channel(alice, HOOK, is_enabled=False)
    off = reminded_channel(bob, HOOK)
    off.preferences.update(is_enabled=False)
    other_event = reminded_channel(carol, HOOK)
    other_event.preferences.update(event_type="lab_result_available")
    reminded_channel(dave, HOOK)
    dave.is_active = False
    dave.save()
    medication(shared_patient, ["08:00"])
    assert reminders.plan(NOW) == []


def test_a_preference_naming_another_users_channel_is_ignored(alice, mallory, patient):
    # Made by hand (the API refuses it): mallory's preference on alice's channel.
    channel = reminded_channel(alice, HOOK)
    channel.preferences.update(is_enabled=False)
    subscribe(mallory, channel)
    medication(patient, ["08:00"])
    assert reminders.plan(NOW) == []


def test_many_medications_and_recipients_in_few_queries(
    alice, bob, shared_patient, django_assert_max_num_queries
):
    reminded_channel(alice, HOOK)
    reminded_channel(alice, HOOK, before=10)
    reminded_channel(bob, HOOK)
    for _ in range(30):
        medication(shared_patient, ["08:00", "08:10"])
    with django_assert_max_num_queries(10):
        ids = reminders.plan(NOW)
    # 30 medications × (alice's on-time channel + bob's) at 08:00, and alice's early channel
    # for 08:10 (sent at 08:00) — 90 rows.
    assert len(ids) == 90 == len(keys())
