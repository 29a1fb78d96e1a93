"""Reads of the activity log for operators: the filtered list, its filter values, the CSV
rows and the dashboard's analytics. Admin-only callers: nothing here scopes by patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import ExtractHour, TruncDate

from adminops.models import ActivityLog
from adminops.services import entity_type_of
from medikeep.accounts.models import User
from patients.choices import RecordAction

MAX_ANALYTICS_DAYS = 366
WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def facility_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def normalise_entity_type(value: str) -> str:
    """ "LabResult", "lab-result", "Lab Result" and "lab_result" all name lab_result."""
    value = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", value.strip())
    return re.sub(r"[\s\-]+", "_", value).lower()


@lru_cache(maxsize=1)
def _entity_names() -> dict[str, str]:
    return {
        entity_type_of(model): str(model._meta.verbose_name).title() for model in apps.get_models()
    }


def entity_type_display(entity_type: str) -> str:
    """The model's verbose name ("Lab Result"); words of the type for kinds without a model
    ("system", "backup")."""
    return _entity_names().get(entity_type) or entity_type.replace("_", " ").title()


def action_display(action: str) -> str:
    return action.replace("_", " ").capitalize()


# --- the filtered list ------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    """The list's filters; None or "" means not filtered."""

    search: str = ""
    action: str = ""
    entity_type: str = ""
    user_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None  # exclusive


def filtered_log(filters: LogFilter) -> QuerySet[ActivityLog]:
    """Rows matching every filter, newest first, with the acting user joined."""
    rows = ActivityLog.objects.select_related("user")
    if filters.action:
        rows = rows.filter(action=filters.action.strip().lower())
    if filters.entity_type:
        rows = rows.filter(entity_type=normalise_entity_type(filters.entity_type))
    if filters.user_id is not None:
        rows = rows.filter(user_id=filters.user_id)
    if filters.start is not None:
        rows = rows.filter(timestamp__gte=filters.start)
    if filters.end is not None:
        rows = rows.filter(timestamp__lt=filters.end)
    for word in filters.search.split():
        match = (
            Q(description__icontains=word)
            | Q(user__username__icontains=word)
            | Q(patient_label__icontains=word)
            | Q(entity_type__icontains=word)
            | Q(action__icontains=word)
        )
        if word.isdigit() and len(word) <= 18:
            match |= Q(entity_id=int(word))
        rows = rows.filter(match)
    return rows.order_by("-timestamp", "-id")


def log_page(filters: LogFilter, *, page: int, per_page: int) -> dict[str, Any]:
    """{items, total, page, per_page, total_pages} — two queries (the count and the page)."""
    rows = filtered_log(filters)
    total = rows.count()
    start = (page - 1) * per_page
    items = list(rows[start : start + per_page]) if start < total else []
    return {
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "total_pages": -(-total // per_page),
    }


def filter_values() -> dict[str, list[dict[str, Any]]]:
    """The values the list can be filtered by: actions and entity types found in the log
    (the record actions always), and the users who appear in it."""
    actions = set(ActivityLog.objects.order_by().values_list("action", flat=True).distinct())
    actions |= set(RecordAction.values)
    entity_types = set(
        ActivityLog.objects.order_by().values_list("entity_type", flat=True).distinct()
    )
    users = User.objects.filter(
        pk__in=ActivityLog.objects.order_by().filter(user__isnull=False).values("user_id")
    ).order_by("username")
    return {
        "actions": [{"value": a, "label": action_display(a)} for a in sorted(actions)],
        "entity_types": [
            {"value": e, "label": entity_type_display(e)} for e in sorted(entity_types)
        ],
        "users": [
            {
                "value": user.pk,
                "label": f"{user.full_name} ({user.username})" if user.full_name else user.username,
            }
            for user in users
        ],
    }


def recent_entries(*, limit: int, action: str = "", entity_type: str = "") -> list[ActivityLog]:
    """The newest rows of the whole log (every kind of action unless filtered)."""
    return list(filtered_log(LogFilter(action=action, entity_type=entity_type))[:limit])


# --- analytics ----------------------------------------------------------------------------------


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _count_between(start: date, end: date, zone: ZoneInfo) -> int:
    return ActivityLog.objects.filter(
        timestamp__gte=_day_start(start, zone),
        timestamp__lt=_day_start(end + timedelta(days=1), zone),
    ).count()


def activity_analytics(*, start: date, end: date, compare: bool = False) -> dict[str, Any]:
    """Activity-log rows per day, per hour of the day and per entity type over the days
    start..end (inclusive, in the facility's time zone); with `compare`, the total of the
    period of the same length just before. Three or four queries whatever the range."""
    zone = facility_zone()
    days = (end - start).days + 1
    rows = ActivityLog.objects.filter(
        timestamp__gte=_day_start(start, zone),
        timestamp__lt=_day_start(end + timedelta(days=1), zone),
    ).order_by()
    per_day = [0] * days
    per_hour = [0] * 24
    buckets = (
        rows.annotate(
            day=TruncDate("timestamp", tzinfo=zone), hour=ExtractHour("timestamp", tzinfo=zone)
        )
        .values("day", "hour")
        .annotate(n=Count("*"))
    )
    for bucket in buckets:
        index = (bucket["day"] - start).days
        if 0 <= index < days:
            per_day[index] += bucket["n"]
            per_hour[bucket["hour"]] += bucket["n"]
    by_type = dict(
        rows.values_list("entity_type").annotate(n=Count("*")).order_by("-n", "entity_type")
    )
    dates = [start + timedelta(days=offset) for offset in range(days)]
    # Weekday names while they are unambiguous (the contract's example); dates beyond a week.
    labels = [WEEKDAY_LABELS[d.weekday()] if days <= 7 else d.isoformat() for d in dates]
    total = sum(per_day)
    body: dict[str, Any] = {
        "weekly_activity": {
            "labels": labels,
            "dates": [d.isoformat() for d in dates],
            "data": per_day,
            "total": total,
        },
        "model_activity": by_type,
        "hourly_activity": {"labels": [f"{hour:02d}:00" for hour in range(24)], "data": per_hour},
        "date_range": {"start": start.isoformat(), "end": end.isoformat(), "days": days},
        "timezone": settings.TIME_ZONE,
    }
    if compare:
        previous_end = start - timedelta(days=1)
        previous_start = previous_end - timedelta(days=days - 1)
        previous = _count_between(previous_start, previous_end, zone)
        if previous:
            change = round(100 * (total - previous) / previous, 1)
        else:
            change = 100.0 if total else 0.0
        body["comparison"] = {
            "current_total": total,
            "previous_total": previous,
            "change_percent": change,
            "previous_period": {
                "start": previous_start.isoformat(),
                "end": previous_end.isoformat(),
            },
        }
    return body
