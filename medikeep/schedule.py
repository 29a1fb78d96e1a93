"""The periodic task table and how it becomes Celery beat's schedule."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from celery.schedules import crontab

from medikeep.env import env_str, invalid


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    task: str
    cron: str  # "minute hour day_of_month month_of_year day_of_week"
    env: str  # the variable that overrides cron; "disable" drops the row


def parse_cron(expression: str) -> crontab:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"crontab {expression!r} must have five fields")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


def shortest_gap_seconds(schedule: crontab) -> int:
    """The shortest gap between two runs within a day, a lower bound of the period."""
    times = sorted(h * 60 + m for h in schedule.hour for m in schedule.minute)
    if len(times) == 1:
        return 24 * 3600
    gaps = [b - a for a, b in pairwise(times)] + [times[0] + 1440 - times[-1]]
    return min(gaps) * 60


def beat_schedule(rows: list[PeriodicTask]) -> dict:
    """Beat entries for the table; a run not started before the next one is due expires."""
    schedule = {}
    for row in rows:
        raw = env_str(row.env, row.cron)
        expression = raw.strip()
        if expression.lower() == "disable":
            continue
        try:
            cron = parse_cron(expression)
        except (ValueError, TypeError):
            invalid(
                row.env,
                raw,
                f"a crontab of five fields (minute hour day month weekday, e.g. {row.cron!r}) "
                "or 'disable'",
            )
            cron = parse_cron(row.cron)
        schedule[row.name] = {
            "task": row.task,
            "schedule": cron,
            "options": {"expires": max(30, int(shortest_gap_seconds(cron) * 0.9))},
        }
    return schedule
