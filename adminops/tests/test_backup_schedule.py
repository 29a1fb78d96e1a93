"""Scheduled backups: slot times in the facility zone, one claim per slot, misfires skipped,
and the beat task that runs a full backup and then the retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from adminops.backups import schedule
from adminops.models import Backup, BackupStatus
from adminops.tests.backup_helpers import use_backup_dir
from medikeep.accounts.models import SystemSetting


@pytest.fixture
def backup_dir(settings, tmp_path):
    return use_backup_dir(settings, tmp_path)


def _config(preset, time_of_day="02:00", day_of_week="sun"):
    return {"preset": preset, "time_of_day": time_of_day, "day_of_week": day_of_week}


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_slots_are_in_the_facility_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"  # 02:00 there is 07:00 UTC in winter
    now = _utc(2026, 1, 15, 12, 0)
    assert schedule.latest_slot(_config("daily"), now) == _utc(2026, 1, 15, 7, 0)
    assert schedule.next_slot(_config("daily"), now) == _utc(2026, 1, 16, 7, 0)


def test_interval_presets_start_from_time_of_day_and_wrap(settings):
    settings.TIME_ZONE = "UTC"
    now = _utc(2026, 1, 15, 21, 0)
    config = _config("every_6_hours", "02:00")
    assert schedule.latest_slot(config, now) == _utc(2026, 1, 15, 20, 0)
    assert schedule.next_slot(config, now) == _utc(2026, 1, 16, 2, 0)
    twice = _config("every_12_hours", "09:15")
    assert schedule.latest_slot(twice, now) == _utc(2026, 1, 15, 9, 15)
    assert schedule.next_slot(twice, now) == _utc(2026, 1, 15, 21, 15)


def test_weekly_runs_on_its_day(settings):
    settings.TIME_ZONE = "UTC"
    now = _utc(2026, 1, 15, 12, 0)  # a Thursday
    slot = schedule.next_slot(_config("weekly", "03:00", "mon"), now)
    assert slot == _utc(2026, 1, 19, 3, 0) and slot.weekday() == 0


def test_a_daily_time_keeps_its_wall_clock_hour_across_dst(settings):
    settings.TIME_ZONE = "Europe/Paris"  # summer time starts 29 March 2026
    before = schedule.next_slot(_config("daily", "04:00"), _utc(2026, 3, 28, 12, 0))
    after = schedule.next_slot(_config("daily", "04:00"), _utc(2026, 3, 29, 12, 0))
    assert before == _utc(2026, 3, 29, 2, 0)  # 04:00 CEST
    assert after == _utc(2026, 3, 30, 2, 0)
    assert schedule.next_slot(_config("disabled"), before) is None


@pytest.mark.django_db
def test_a_due_slot_is_claimed_once(settings):
    settings.TIME_ZONE = "UTC"
    SystemSetting.objects.create(key=schedule.SCHEDULE_KEY, value=_config("daily", "02:00"))
    assert schedule.claim_due_slot(now=_utc(2026, 1, 15, 1, 59)) is None  # not yet (yesterday's
    # slot is past the grace)
    assert schedule.claim_due_slot(now=_utc(2026, 1, 15, 2, 1)) == _utc(2026, 1, 15, 2, 0)
    assert schedule.claim_due_slot(now=_utc(2026, 1, 15, 2, 2)) is None  # a second beat
    stored = SystemSetting.objects.get(key=schedule.SCHEDULE_KEY).value
    assert stored["last_run_status"] == "running"


@pytest.mark.django_db
def test_a_slot_missed_by_more_than_the_grace_is_skipped(settings):
    settings.TIME_ZONE = "UTC"
    SystemSetting.objects.create(key=schedule.SCHEDULE_KEY, value=_config("daily", "02:00"))
    assert schedule.claim_due_slot(now=_utc(2026, 1, 15, 3, 30)) is None


@pytest.mark.django_db
def test_saving_the_schedule_never_starts_a_backup_at_once(settings):
    settings.TIME_ZONE = "UTC"
    now = _utc(2026, 1, 15, 2, 10)
    view = schedule.schedule_update(changes=_config("daily", "02:00"), now=now)
    assert view["next_run_at"] == _utc(2026, 1, 16, 2, 0)
    assert schedule.claim_due_slot(now=now + timedelta(minutes=1)) is None
    assert schedule.claim_due_slot(now=_utc(2026, 1, 16, 2, 0)) == _utc(2026, 1, 16, 2, 0)


@pytest.mark.django_db
def test_a_disabled_schedule_claims_nothing():
    schedule.schedule_update(changes={"preset": "disabled"})
    assert schedule.claim_due_slot() is None


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_runs_a_full_backup_then_the_retention(backup_dir, settings):
    from adminops.tasks import run_due_backup

    settings.TIME_ZONE = "UTC"
    settings.BACKUP_MIN_COUNT = 1
    settings.BACKUP_MAX_COUNT = 1
    backup_dir.mkdir(parents=True)
    (backup_dir / "old.tar").write_bytes(b"old")
    old = Backup.objects.create(
        backup_type="database",
        filename="old.tar",
        path="old.tar",
        status=BackupStatus.COMPLETED,
        created_at=timezone.now() - timedelta(days=1),
    )
    due = (timezone.now() - timedelta(minutes=1)).astimezone(UTC)
    SystemSetting.objects.create(
        key=schedule.SCHEDULE_KEY, value=_config("daily", due.strftime("%H:%M"))
    )

    assert run_due_backup.delay().get() is not None

    made = Backup.objects.get()
    assert made.pk != old.pk  # the retention removed the older one (max_count 1)
    assert made.backup_type == "full" and made.status == BackupStatus.COMPLETED
    assert made.description == schedule.SCHEDULED_DESCRIPTION and made.created_by is None
    assert made.details["scheduled"] is True
    assert not (backup_dir / "old.tar").exists()
    view = schedule.schedule_view()
    assert view["last_run_status"] == "success" and view["last_backup_id"] == made.pk
    assert view["last_run_at"] is not None
    assert run_due_backup.delay().get() is None  # the slot is done


@pytest.mark.django_db
def test_a_scheduled_run_that_fails_is_recorded(backup_dir, settings):
    settings.TIME_ZONE = "UTC"
    SystemSetting.objects.create(key=schedule.SCHEDULE_KEY, value=_config("daily"))
    # Inside the test's transaction the backup cannot run: the failure is what is recorded.
    assert schedule.run_scheduled_backup() is None
    view = schedule.schedule_view()
    assert view["last_run_status"] == "failed"
    assert "transaction" in view["last_run_error"]
    assert Backup.objects.get().status == BackupStatus.FAILED
