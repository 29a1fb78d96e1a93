"""Trend data for report charts: what can be charted, how many points a chart would hold,
and the points themselves.

Vital types are records.models.vitals.VitalType (blood_pressure charts systolic and diastolic
together); lab tests are LabTestComponent values grouped by test name and unit, dated as the
lab trends endpoint dates them (records/lab_trends.py).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, DateField
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from records.models import LabTestComponent, Vitals
from records.models.vitals import MEASURES, VitalType

# Points drawn per chart at most (the newest); a line of more says nothing more on A4.
MAX_CHART_POINTS = 2000
BLOOD_PRESSURE_FIELDS = ("systolic_bp", "diastolic_bp")


def vital_fields(vital_type: str) -> tuple[str, ...]:
    if vital_type == VitalType.BLOOD_PRESSURE:
        return BLOOD_PRESSURE_FIELDS
    return (vital_type,)


def vital_unit(vital_type: str) -> str:
    return MEASURES[vital_fields(vital_type)[0]].unit


def vital_label(vital_type: str) -> str:
    return VitalType(vital_type).label


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def vitals_in_range(patient_id: int, date_from, date_to):
    rows = Vitals.objects.for_patient(patient_id)
    # Bounds on the column itself (not its date), so the (patient, recorded_date) index serves.
    if date_from:
        rows = rows.filter(recorded_date__gte=_day_start(date_from))
    if date_to:
        rows = rows.filter(recorded_date__lt=_day_start(date_to + dt.timedelta(days=1)))
    return rows


def available_vital_types(patient_id: int) -> list[dict]:
    """The vital types with at least one reading, in one query."""
    counts = Vitals.objects.for_patient(patient_id).aggregate(
        **{
            vital_type: Count("id", filter=VitalType.condition(vital_type))
            for vital_type in VitalType.values
        }
    )
    return [
        {
            "vital_type": vital_type,
            "display_name": vital_label(vital_type),
            "unit": vital_unit(vital_type),
            "count": counts[vital_type],
        }
        for vital_type in VitalType.values
        if counts[vital_type]
    ]


def _components(patient_id: int):
    return (
        LabTestComponent.objects.for_patient(patient_id)
        .filter(value__isnull=False)
        .annotate(
            recorded_date=Coalesce(
                "lab_result__completed_date",
                "lab_result__ordered_date",
                TruncDate("created_at"),
                output_field=DateField(),
            )
        )
    )


def available_lab_tests(patient_id: int) -> list[dict]:
    """(test name, unit) pairs with numeric values; names and units compared without case or
    surrounding spaces, shown as first written."""
    grouped: dict[tuple[str, str], dict] = {}
    rows = (
        LabTestComponent.objects.for_patient(patient_id)
        .filter(value__isnull=False)
        .values_list("test_name", "unit")
        .annotate(count=Count("id"))
        .order_by("test_name", "unit")
    )
    for name, unit, count in rows:
        name, unit = name.strip(), (unit or "").strip()
        if not name:
            continue
        key = (name.lower(), unit.lower())
        entry = grouped.setdefault(key, {"test_name": name, "unit": unit, "count": 0})
        entry["count"] += count
    return sorted(grouped.values(), key=lambda e: (e["test_name"].lower(), e["unit"].lower()))


def lab_points_query(patient_id: int, test_name: str, unit: str | None, date_from, date_to):
    rows = _components(patient_id).filter(test_name__iexact=test_name.strip())
    if unit is not None:
        rows = rows.filter(unit__iexact=unit.strip())
    if date_from:
        rows = rows.filter(recorded_date__gte=date_from)
    if date_to:
        rows = rows.filter(recorded_date__lte=date_to)
    return rows


def lab_chart_key(test_name: str, unit: str | None) -> str:
    return f"{test_name}::{unit or ''}"


def chart_counts(patient_id: int, vital_charts: list[dict], lab_test_charts: list[dict]) -> dict:
    """Points each chart would draw in its dates (one query per chart; at most ten)."""
    vital_counts = {}
    for chart in vital_charts:
        vital_type = chart["vital_type"]
        rows = vitals_in_range(patient_id, chart.get("date_from"), chart.get("date_to"))
        vital_counts[vital_type] = rows.filter(VitalType.condition(vital_type)).count()
    lab_counts = {}
    for chart in lab_test_charts:
        rows = lab_points_query(
            patient_id,
            chart["test_name"],
            chart.get("unit"),
            chart.get("date_from"),
            chart.get("date_to"),
        )
        lab_counts[lab_chart_key(chart["test_name"].strip(), chart.get("unit"))] = rows.count()
    return {"vital_counts": vital_counts, "lab_test_counts": lab_counts}


def vital_series(patient_id: int, vital_type: str, date_from, date_to) -> dict[str, list]:
    """{field: [(datetime, value)…]} oldest first, the newest MAX_CHART_POINTS readings."""
    fields = vital_fields(vital_type)
    rows = list(
        vitals_in_range(patient_id, date_from, date_to)
        .filter(VitalType.condition(vital_type))
        .order_by("-recorded_date", "-id")
        .values_list("recorded_date", *fields)[:MAX_CHART_POINTS]
    )
    rows.reverse()
    return {field: [(row[0], row[index + 1]) for row in rows] for index, field in enumerate(fields)}


def vital_types_with_data(patient_id: int, date_from, date_to, minimum: int = 2) -> list[str]:
    """The vital types with at least `minimum` readings in the range (one query)."""
    counts = vitals_in_range(patient_id, date_from, date_to).aggregate(
        **{t: Count("id", filter=VitalType.condition(t)) for t in VitalType.values}
    )
    return [t for t in VitalType.values if counts[t] >= minimum]


def lab_series(patient_id: int, chart: dict) -> list[tuple[dt.date, float]]:
    rows = list(
        lab_points_query(
            patient_id,
            chart["test_name"],
            chart.get("unit"),
            chart.get("date_from"),
            chart.get("date_to"),
        )
        .order_by("-recorded_date", "-id")
        .values_list("recorded_date", "value")[:MAX_CHART_POINTS]
    )
    rows.reverse()
    return rows
