"""The dose schedule (records/services/dose_schedule.py): pure functions, no database."""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from records.services.dose_schedule import (
    count_slots_between,
    has_schedule,
    is_scheduled,
    slots_between,
)

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def med(**fields):
    values = {
        "status": "active",
        "reminder_enabled": True,
        "reminder_times": ["08:00", "20:00"],
        "reminder_days": None,
        "effective_period_start": None,
        "effective_period_end": None,
        **fields,
    }
    return SimpleNamespace(**values)


def at(zone, *parts):
    return dt.datetime(*parts, tzinfo=zone)


def local(slots, zone):
    return [slot.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for slot in slots]


class TestSlots:
    def test_times_of_each_day_in_utc_sorted(self):
        slots = slots_between(med(), at(BERLIN, 2025, 1, 6), at(BERLIN, 2025, 1, 8), zone=BERLIN)
        assert local(slots, BERLIN) == [
            "2025-01-06 08:00 CET",
            "2025-01-06 20:00 CET",
            "2025-01-07 08:00 CET",
            "2025-01-07 20:00 CET",
        ]
        assert all(slot.tzinfo is UTC for slot in slots)
        assert slots[0] == at(UTC, 2025, 1, 6, 7, 0)

    def test_the_window_is_half_open(self):
        m = med(reminder_times=["08:00"])
        start, end = at(UTC, 2025, 1, 6, 8), at(UTC, 2025, 1, 7, 8)
        assert slots_between(m, start, end, zone=UTC) == [start]
        assert slots_between(m, start, start, zone=UTC) == []
        assert slots_between(m, end, start, zone=UTC) == []

    def test_weekdays_monday_is_zero(self):
        m = med(reminder_times=["09:00"], reminder_days=[0, 4])  # Monday, Friday
        slots = slots_between(m, at(UTC, 2025, 1, 6), at(UTC, 2025, 1, 20), zone=UTC)
        assert [s.strftime("%a %d") for s in slots] == ["Mon 06", "Fri 10", "Mon 13", "Fri 17"]

    @pytest.mark.parametrize("days", [None, []])
    def test_no_weekdays_means_every_day(self, days):
        m = med(reminder_times=["09:00"], reminder_days=days)
        assert len(slots_between(m, at(UTC, 2025, 1, 6), at(UTC, 2025, 1, 13), zone=UTC)) == 7

    def test_effective_period_ends_are_local_days_and_inclusive(self):
        m = med(
            reminder_times=["00:30", "23:30"],
            effective_period_start=dt.date(2025, 1, 7),
            effective_period_end=dt.date(2025, 1, 8),
        )
        slots = slots_between(m, at(UTC, 2025, 1, 1), at(UTC, 2025, 1, 31), zone=BERLIN)
        assert local(slots, BERLIN) == [
            "2025-01-07 00:30 CET",
            "2025-01-07 23:30 CET",
            "2025-01-08 00:30 CET",
            "2025-01-08 23:30 CET",
        ]

    @pytest.mark.parametrize(
        "fields",
        [
            {"reminder_enabled": False},
            {"status": "stopped"},
            {"status": "on-hold"},
            {"reminder_times": []},
            {"reminder_times": None},
            {"reminder_times": ["junk"]},
        ],
    )
    def test_no_schedule_means_no_slots(self, fields):
        m = med(**fields)
        assert not has_schedule(m)
        assert slots_between(m, at(UTC, 2025, 1, 1), at(UTC, 2025, 2, 1), zone=UTC) == []
        assert count_slots_between(m, at(UTC, 2025, 1, 1), at(UTC, 2025, 2, 1), zone=UTC) == 0

    def test_naive_bounds_are_refused(self):
        with pytest.raises(ValueError):
            slots_between(med(), dt.datetime(2025, 1, 1), at(UTC, 2025, 1, 2))

    def test_the_facility_zone_is_the_default(self, settings):
        settings.TIME_ZONE = "Asia/Kolkata"
        slots = slots_between(
            med(reminder_times=["08:00"]), at(UTC, 2025, 1, 6), at(UTC, 2025, 1, 7)
        )
        assert slots == [at(UTC, 2025, 1, 6, 2, 30)]

    def test_is_scheduled(self):
        m = med()
        assert is_scheduled(m, at(BERLIN, 2025, 1, 6, 20), zone=BERLIN)
        assert is_scheduled(m, at(UTC, 2025, 1, 6, 19), zone=BERLIN)  # the same instant
        assert not is_scheduled(m, at(BERLIN, 2025, 1, 6, 20, 1), zone=BERLIN)
        assert not is_scheduled(m, at(BERLIN, 2025, 1, 6, 20, 0, 1), zone=BERLIN)
        assert not is_scheduled(med(status="stopped"), at(BERLIN, 2025, 1, 6, 20), zone=BERLIN)


class TestDaylightSaving:
    """Berlin: clocks go from 02:00 to 03:00 on 30 March 2025, and from 03:00 back to 02:00 on
    26 October 2025."""

    def test_a_time_in_the_spring_gap_is_reminded_once_an_hour_later(self):
        m = med(reminder_times=["02:30", "08:00"])
        slots = slots_between(m, at(BERLIN, 2025, 3, 29), at(BERLIN, 2025, 4, 1), zone=BERLIN)
        assert local(slots, BERLIN) == [
            "2025-03-29 02:30 CET",
            "2025-03-29 08:00 CET",
            "2025-03-30 03:30 CEST",
            "2025-03-30 08:00 CEST",
            "2025-03-31 02:30 CEST",
            "2025-03-31 08:00 CEST",
        ]
        # The day has 23 hours: its 08:00 is 23 hours after the day before's.
        assert slots[3] - slots[1] == dt.timedelta(hours=23)

    def test_two_times_that_meet_in_the_gap_are_one_slot(self):
        m = med(reminder_times=["02:30", "03:30"])
        day = slots_between(m, at(BERLIN, 2025, 3, 30), at(BERLIN, 2025, 3, 31), zone=BERLIN)
        assert local(day, BERLIN) == ["2025-03-30 03:30 CEST"]
        assert (
            count_slots_between(m, at(BERLIN, 2025, 3, 30), at(BERLIN, 2025, 3, 31), zone=BERLIN)
            == 1
        )

    def test_a_time_that_happens_twice_in_autumn_is_its_first_occurrence(self):
        m = med(reminder_times=["02:30"])
        slots = slots_between(m, at(BERLIN, 2025, 10, 26), at(BERLIN, 2025, 10, 27), zone=BERLIN)
        assert slots == [at(UTC, 2025, 10, 26, 0, 30)]
        assert local(slots, BERLIN) == ["2025-10-26 02:30 CEST"]

    def test_new_york_spring_forward(self):
        m = med(reminder_times=["02:15"])
        slots = slots_between(m, at(NEW_YORK, 2025, 3, 9), at(NEW_YORK, 2025, 3, 10), zone=NEW_YORK)
        assert local(slots, NEW_YORK) == ["2025-03-09 03:15 EDT"]


@pytest.mark.parametrize("zone", [UTC, BERLIN, NEW_YORK, ZoneInfo("Australia/Lord_Howe")])
def test_the_count_is_the_number_of_slots(zone):
    """The fast count agrees with the full list over many windows, clock changes included
    (Lord Howe moves its clocks by half an hour)."""
    rng = random.Random(14)
    all_times = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)]
    for _ in range(200):
        m = med(
            reminder_times=rng.sample(all_times, rng.randint(1, 12)),
            reminder_days=rng.choice([None, [], rng.sample(range(7), rng.randint(1, 6))]),
            effective_period_start=rng.choice([None, dt.date(2025, 3, rng.randint(1, 28))]),
            effective_period_end=rng.choice([None, dt.date(2025, 11, rng.randint(1, 28))]),
        )
        # Half the windows start near a clock change (late March, late October).
        base = rng.choice([at(UTC, 2025, 1, 1), at(UTC, 2025, 3, 20), at(UTC, 2025, 10, 15)])
        span = 365 if base.month == 1 else 15
        start = base + dt.timedelta(minutes=rng.randint(0, span * 24 * 60))
        end = start + dt.timedelta(minutes=rng.randint(0, 40 * 24 * 60))
        assert count_slots_between(m, start, end, zone=zone) == len(
            slots_between(m, start, end, zone=zone)
        )
