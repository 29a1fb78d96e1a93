"""A lab test's history for one patient: the data points and their statistics.

Used by GET /lab-test-components/patient/{patient_id}/trends. Components still waiting for
their value are left out; a point is dated by its lab result (completed, else ordered, else
the day the component was entered).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence

from django.db.models import DateField, Q
from django.db.models.functions import Coalesce, TruncDate

from records.models import LabTestComponent
from records.models.labs import ABNORMAL_STATUSES, LabTestComponentResultType

MAX_POINTS = 100
# The least-squares change over the whole period must reach this share of the values' spread
# (or of 1 % of their mean, for a flat series) to count as a trend.
TREND_SHARE = 0.10
MEAN_SHARE = 0.01
MIN_TREND_POINTS = 3


def trend_points(
    patient_id: int,
    test_name: str,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    unit: str | None = None,
    limit: int = MAX_POINTS,
) -> list[LabTestComponent]:
    """The patient's newest components of this test (name compared case-insensitively),
    newest first, each with `recorded_date`. `unit` "" selects the components without one."""
    rows = (
        LabTestComponent.objects.for_patient(patient_id)
        .with_result()
        .filter(test_name__iexact=test_name.strip())
        .select_related("lab_result")
        .annotate(
            recorded_date=Coalesce(
                "lab_result__completed_date",
                "lab_result__ordered_date",
                TruncDate("created_at"),
                output_field=DateField(),
            )
        )
    )
    if unit is not None:
        rows = rows.filter(Q(unit__iexact=unit.strip()))
    if date_from is not None:
        rows = rows.filter(recorded_date__gte=date_from)
    if date_to is not None:
        rows = rows.filter(recorded_date__lte=date_to)
    return list(rows.order_by("-recorded_date", "-id")[:limit])


def trend_direction(points: Sequence[tuple[float, float]]) -> str:
    """increasing / decreasing / stable from a least-squares line through (day, value).

    Stable with fewer than three points, when every point has the same day, or when the
    line's change over the period is under 10 % of max(range of values, 1 % of their mean).
    """
    if len(points) < MIN_TREND_POINTS:
        return "stable"
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread_x = sum((x - mean_x) ** 2 for x in xs)
    if spread_x == 0:
        return "stable"
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread_x
    change = slope * (max(xs) - min(xs))
    threshold = TREND_SHARE * max(max(ys) - min(ys), MEAN_SHARE * abs(mean_y))
    if abs(change) < threshold or change == 0:
        return "stable"
    return "increasing" if change > 0 else "decreasing"


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def trend_statistics(rows: Sequence[LabTestComponent], result_type: str) -> dict:
    """Statistics of the points (newest first) of one result type."""
    count = len(rows)
    statuses = [row.status for row in rows if row.status]
    normal = sum(1 for status in statuses if status == "normal")
    abnormal = sum(1 for status in statuses if status in ABNORMAL_STATUSES)
    stats = {
        "count": count,
        "latest": None,
        "average": None,
        "min": None,
        "max": None,
        "std_dev": None,
        "trend_direction": "stable",
        "time_in_range_percent": round(100 * normal / len(statuses), 1) if statuses else None,
        "normal_count": normal,
        "abnormal_count": abnormal,
        "result_type": result_type,
        "qualitative_summary": None,
    }
    if result_type == LabTestComponentResultType.QUALITATIVE:
        stats["qualitative_summary"] = dict(
            Counter(row.qualitative_value or "unknown" for row in rows)
        )
        return stats
    numbers = [row for row in rows if row.value is not None]
    if not numbers:
        return stats
    values = [row.value for row in numbers]
    mean = sum(values) / len(values)
    stats |= {
        "latest": _round(values[0]),
        "average": _round(mean),
        "min": _round(min(values)),
        "max": _round(max(values)),
        # Population standard deviation; none for a single value.
        "std_dev": (
            _round(math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)))
            if len(values) > 1
            else None
        ),
        "trend_direction": trend_direction(
            [(row.recorded_date.toordinal(), row.value) for row in numbers]
        ),
    }
    return stats
