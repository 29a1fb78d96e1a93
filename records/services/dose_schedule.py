"""The dose schedule of a medication: which instants are its scheduled doses ("slots").

Pure functions (no database): the reminder planner, the dose log's slot check and adherence
all ask this one module, so a slot that is reminded is exactly a slot that is due and may be
answered.

A medication has slots only while it is `active` with `reminder_enabled` on: the planner
reminds nothing else, so nothing else is due. Each slot is a local wall-clock time from
`reminder_times` ("HH:MM") on a local day of the facility time zone (settings.TIME_ZONE)
that is allowed by `reminder_days` (0 = Monday … 6 = Sunday; null or empty = every day) and
lies within the effective period (dates, both ends inclusive, either may be open).

Daylight saving: a time that does not exist on the day clocks go forward (02:30 in a gap
from 02:00 to 03:00) is taken one gap-length later (03:30), so the dose is still reminded,
once; a time that occurs twice on the day clocks go back is its first occurrence. Two times
that fall on one instant that way (02:30 and 03:30 on a spring-forward day) are one slot.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings

ACTIVE = "active"  # records.models.MedicationStatus.ACTIVE, without importing the models


def facility_zone() -> ZoneInfo:
    """The time zone reminder times are read in (settings.TIME_ZONE, the `TZ` env var)."""
    return ZoneInfo(settings.TIME_ZONE)


def has_schedule(medication) -> bool:
    """Whether the medication has any slots at all (active, reminders on, a time set)."""
    return bool(
        getattr(medication, "status", None) == ACTIVE
        and getattr(medication, "reminder_enabled", False)
        and _times(tuple(getattr(medication, "reminder_times", None) or ()))
    )


def slots_between(
    medication, start: dt.datetime, end: dt.datetime, *, zone: dt.tzinfo | None = None
) -> list[dt.datetime]:
    """The medication's scheduled doses at instants in [start, end), sorted, in UTC.

    `medication` is anything with the attributes status, reminder_enabled, reminder_times,
    reminder_days, effective_period_start and effective_period_end (a Medication, or a row
    of `.values()` wrapped in a SimpleNamespace). `start` and `end` must be aware.
    `zone` defaults to the facility time zone.
    """
    _check_aware(start, end)
    if not has_schedule(medication) or end <= start:
        return []
    zone = zone or facility_zone()
    times = _times(tuple(medication.reminder_times))
    found: set[dt.datetime] = set()
    for day in _days(medication, start, end, zone):
        found.update(slot for slot in _day_slots(day, times, zone) if start <= slot < end)
    return sorted(found)


def count_slots_between(
    medication, start: dt.datetime, end: dt.datetime, *, zone: dt.tzinfo | None = None
) -> int:
    """len(slots_between(...)), without building every slot: a whole day inside the window
    with no clock change counts its times; only the window's edge days and clock-change
    days are worked out slot by slot (adherence counts 30 days for every listed row)."""
    _check_aware(start, end)
    if not has_schedule(medication) or end <= start:
        return 0
    zone = zone or facility_zone()
    times = _times(tuple(medication.reminder_times))
    count = 0
    for day in _days(medication, start, end, zone):
        day_start, day_end, steady = _day_bounds(day, zone)
        if steady and start <= day_start and day_end <= end:
            count += len(times)
        else:
            count += len({slot for slot in _day_slots(day, times, zone) if start <= slot < end})
    return count


def is_scheduled(medication, instant: dt.datetime, *, zone: dt.tzinfo | None = None) -> bool:
    """Whether `instant` is one of the medication's slots."""
    return slots_between(
        medication, instant, instant + dt.timedelta(microseconds=1), zone=zone
    ) == [instant.astimezone(dt.UTC)]


# --- helpers ---------------------------------------------------------------------------------


def _check_aware(*moments: dt.datetime) -> None:
    if any(moment.tzinfo is None or moment.utcoffset() is None for moment in moments):
        raise ValueError("slots_between needs aware datetimes")


@lru_cache(maxsize=256)
def _times(values: tuple) -> tuple[dt.time, ...]:
    """Parsed "HH:MM" times; anything unreadable is left out (the model refuses it on save,
    but a row written around the model must not break a list)."""
    parsed = set()
    for value in values:
        try:
            hour, minute = str(value).strip().split(":")
            parsed.add(dt.time(int(hour), int(minute)))
        except (TypeError, ValueError):
            continue
    return tuple(sorted(parsed))


def _days(medication, start: dt.datetime, end: dt.datetime, zone: ZoneInfo):
    """Local days that may hold a slot in [start, end): one day of margin on each side, as a
    slot shifted by a clock change may leave its day's usual offset."""
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    if medication.effective_period_start and medication.effective_period_start > first:
        first = medication.effective_period_start
    if medication.effective_period_end and medication.effective_period_end < last:
        last = medication.effective_period_end
    weekdays = set(medication.reminder_days or ()) or None
    day = first
    while day <= last:
        if weekdays is None or day.weekday() in weekdays:
            yield day
        day += dt.timedelta(days=1)


def _day_slots(day: dt.date, times: tuple[dt.time, ...], zone: ZoneInfo) -> list[dt.datetime]:
    # fold=0: a time in a spring-forward gap takes the offset before the change (so it lands
    # one gap-length later), a repeated time its first occurrence.
    return [dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC) for time in times]


@lru_cache(maxsize=4096)
def _day_bounds(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime, bool]:
    """The instants the local day starts and ends, and whether its offset stays the same."""
    begins = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    ends = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    steady = begins.utcoffset() == ends.utcoffset()
    return begins.astimezone(dt.UTC), ends.astimezone(dt.UTC), steady
