"""Scheduled backups: the admins' schedule, when it is due, and the run.

The schedule is one SystemSetting row ("auto_backup_schedule"): a preset (disabled,
every_6_hours, every_12_hours, daily, weekly), time_of_day "HH:MM" and day_of_week (weekly),
in the facility's time zone (settings.TIME_ZONE). Interval presets start from time_of_day
(every_6_hours at 02:00 runs at 02:00, 08:00, 14:00 and 20:00).

Celery beat calls `start_due_backup` every minute. It claims the latest due slot in a
transaction (the row is locked, so two beat processes start one backup), then queues the run:
a full backup, then the retention cleanup. A slot missed by more than MISFIRE_GRACE (the
worker was down) is skipped rather than run at a surprising hour; saving the schedule marks
slots already past as done, so a change never starts a backup at once.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from adminops.backups.services import audit
from medikeep.accounts.models import SystemSetting
from medikeep.api.exceptions import FieldValidationError

logger = logging.getLogger("adminops.backups")

SCHEDULE_KEY = "auto_backup_schedule"
PRESETS = ("disabled", "every_6_hours", "every_12_hours", "daily", "weekly")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL_HOURS = {"every_6_hours": 6, "every_12_hours": 12, "daily": 24, "weekly": 24}
DEFAULTS = {"preset": "disabled", "time_of_day": "02:00", "day_of_week": "sun"}
MISFIRE_GRACE = timedelta(hours=1)
SCHEDULED_DESCRIPTION = "Scheduled backup"


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def stored_schedule() -> dict:
    value = SystemSetting.objects.filter(key=SCHEDULE_KEY).values_list("value", flat=True).first()
    return {**DEFAULTS, **(value if isinstance(value, dict) else {})}


def parse_time_of_day(value) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(value or "").strip())
    if not match:
        raise FieldValidationError("time_of_day", 'Use 24-hour "HH:MM", e.g. "02:00".')
    return time(int(match[1]), int(match[2]))


def parse_day_of_week(value) -> str:
    text = str(value or "").strip().lower()
    if text.isdigit() and int(text) < 7:  # 0 = Monday, as Python counts
        return DAYS[int(text)]
    for day in DAYS:
        if text == day or (len(text) > 3 and day.startswith(text[:3]) and text.endswith("day")):
            return day
    raise FieldValidationError("day_of_week", f"Use one of {', '.join(DAYS)}.")


def slots_around(config: dict, moment: datetime) -> list[datetime]:
    """Run times (aware, sorted) from eight days before to eight days after `moment`.
    Steps are wall-clock hours, so a daily 02:00 stays 02:00 across a DST change."""
    preset = config.get("preset")
    if preset not in _INTERVAL_HOURS:
        return []
    start = parse_time_of_day(config.get("time_of_day"))
    zone = _zone()
    today = moment.astimezone(zone).date()
    hours = _INTERVAL_HOURS[preset]
    weekday = DAYS.index(config.get("day_of_week") or "sun") if preset == "weekly" else None
    slots = []
    for offset in range(-8, 9):
        day = today + timedelta(days=offset)
        if weekday is not None and day.weekday() != weekday:
            continue
        first = datetime.combine(day, start, tzinfo=zone)
        slots += [first + timedelta(hours=hours * step) for step in range(24 // hours)]
    return sorted(slots)


def latest_slot(config: dict, now: datetime) -> datetime | None:
    past = [slot for slot in slots_around(config, now) if slot <= now]
    return past[-1] if past else None


def next_slot(config: dict, now: datetime) -> datetime | None:
    return next((slot for slot in slots_around(config, now) if slot > now), None)


def schedule_view(config: dict | None = None, *, now=None) -> dict:
    config = config or stored_schedule()
    now = now or timezone.now()
    enabled = config["preset"] != "disabled"
    return {
        "enabled": enabled,
        "preset": config["preset"],
        "time_of_day": config["time_of_day"],
        "day_of_week": config["day_of_week"],
        "timezone": settings.TIME_ZONE,
        "backup_type": "full",
        "next_run_at": next_slot(config, now) if enabled else None,
        "last_run_at": parse_datetime(config.get("last_run_at") or "") or None,
        "last_run_status": config.get("last_run_status"),
        "last_run_error": config.get("last_run_error"),
        "last_backup_id": config.get("last_backup_id"),
    }


def schedule_update(*, changes: dict, user=None, ip=None, now=None) -> dict:
    """Saves preset / time_of_day / day_of_week (validated here); slots already past are
    marked done. Answers the schedule as schedule_view does."""
    now = now or timezone.now()
    cleaned = {}
    if "preset" in changes:
        if changes["preset"] not in PRESETS:
            raise FieldValidationError("preset", f"Use one of {', '.join(PRESETS)}.")
        cleaned["preset"] = changes["preset"]
    if changes.get("time_of_day") is not None:
        cleaned["time_of_day"] = parse_time_of_day(changes["time_of_day"]).strftime("%H:%M")
    if changes.get("day_of_week") is not None:
        cleaned["day_of_week"] = parse_day_of_week(changes["day_of_week"])
    with transaction.atomic():
        row, _ = SystemSetting.objects.select_for_update().get_or_create(
            key=SCHEDULE_KEY, defaults={"value": dict(DEFAULTS)}
        )
        before = {**DEFAULTS, **(row.value if isinstance(row.value, dict) else {})}
        config = {**before, **cleaned}
        latest = latest_slot(config, now)
        config["last_slot"] = latest.isoformat() if latest else None
        row.value = config
        row.save(update_fields=["value", "updated_at"])
        audit(
            user=user,
            action="settings_updated",
            backup=None,
            description=f"Backup schedule set to {config['preset']}"
            + ("" if config["preset"] == "disabled" else f" at {config['time_of_day']}"),
            ip=ip,
            before={key: before.get(key) for key in DEFAULTS},
            after={key: config[key] for key in DEFAULTS},
        )
    return schedule_view(config, now=now)


def claim_due_slot(*, now=None) -> datetime | None:
    """The slot to run now, claimed (recorded as started), or None."""
    now = now or timezone.now()
    config = stored_schedule()
    if config["preset"] == "disabled":
        return None
    slot = latest_slot(config, now)
    if slot is None or now - slot > MISFIRE_GRACE:
        return None
    with transaction.atomic():
        row = SystemSetting.objects.select_for_update().filter(key=SCHEDULE_KEY).first()
        if row is None or not isinstance(row.value, dict):
            return None
        done = parse_datetime(row.value.get("last_slot") or "")
        if done is not None and done >= slot:
            return None
        row.value = {
            **row.value,
            "last_slot": slot.isoformat(),
            "last_run_at": now.isoformat(),
            "last_run_status": "running",
            "last_run_error": None,
        }
        row.save(update_fields=["value", "updated_at"])
    return slot


def record_run(*, status: str, error: str | None = None, backup_id: int | None = None) -> None:
    with transaction.atomic():
        row = SystemSetting.objects.select_for_update().filter(key=SCHEDULE_KEY).first()
        if row is None or not isinstance(row.value, dict):
            return
        row.value = {
            **row.value,
            "last_run_status": status,
            "last_run_error": error,
            "last_backup_id": backup_id,
        }
        row.save(update_fields=["value", "updated_at"])


def run_scheduled_backup() -> int | None:
    """A full backup, then the retention cleanup; the outcome goes into the schedule."""
    from adminops.backups.retention import backup_cleanup
    from adminops.backups.services import BackupFailed, backup_create

    try:
        backup = backup_create(
            backup_type="full", description=SCHEDULED_DESCRIPTION, scheduled=True
        )
    except BackupFailed as exc:
        record_run(status="failed", error=exc.backup.error, backup_id=exc.backup.pk)
        return None
    except Exception as exc:  # e.g. another backup running (409): recorded, not raised
        record_run(status="failed", error=str(exc)[:500] or type(exc).__name__)
        logger.warning("scheduled backup did not run: %s", exc)
        return None
    record_run(status="success", backup_id=backup.pk)
    try:
        backup_cleanup()
    except Exception:
        logger.exception("retention after the scheduled backup %s failed", backup.pk)
    return backup.pk
