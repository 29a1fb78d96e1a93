"""Vitals statistics: averages, extremes, latest values and trends of a patient's readings.

`queryset_stats` computes them for any (filtered) queryset of one patient's readings;
`patient_stats` for all of a patient's readings, with statements compiled once per process
and a per-patient cache that every write of the patient's readings drops
(`invalidate_vitals_stats`, called by VitalsQuerySet's writes and Vitals.save/delete).
"""

from __future__ import annotations

import logging
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Avg, Count, FloatField, IntegerField, Max, Min, Q, Subquery, Value

from patients.models import Patient
from records.models.vitals import MEASURES, Vitals, VitalsTrend, compute_bmi

logger = logging.getLogger("medikeep")

# A trend compares the newest third of a measure's time span with the oldest third; it is
# "stable" while the averages differ by at most this share of the older one.
TREND_TOLERANCE = 0.02
# The measures the statistics cover (pain and BMI included; height barely changes but helps
# compute a BMI when no reading has one).
STAT_MEASURES = tuple(MEASURES)


def _round(value, digits: int = 1):
    return None if value is None else round(float(value), digits)


def _trend(old, new) -> str:
    if old is None or new is None:
        return VitalsTrend.STABLE.value
    difference = new - old
    if abs(difference) <= abs(old) * TREND_TOLERANCE:
        return VitalsTrend.STABLE.value
    return (VitalsTrend.INCREASING if difference > 0 else VitalsTrend.DECREASING).value


def queryset_stats(queryset, patient_id: int) -> dict:
    """Statistics of the readings in `queryset` (one patient's), in two queries whatever the
    number of readings:
    1. per measure: first and last date and latest value (and the first weight), each an
       ordered LIMIT 1 step on the measure's partial index (see Vitals.Meta), as scalar
       subqueries of the patient's row;
    2. one pass over the readings: the count of all, and per measure count, average,
       extremes and the averages over the oldest and the newest third of its time span
       (first to last reading, from 1.), as conditional aggregates. The trend compares the
       two thirds.
    """
    # The patient equality first (see VitalsViewSet.get_queryset): SQLite then plans each
    # lookup on the measure's index instead of sorting.
    base = (Vitals.objects.for_patient(patient_id) & queryset).order_by()
    values = _points_query(base, patient_id).first() or {}
    thirds = _thirds(values)
    return _assemble(values, _totals(list(_totals_query(base, thirds))), thirds)


def patient_stats(alias: str, patient_id: int) -> dict:
    """queryset_stats() of all the patient's readings, cached per patient until one of its
    readings is written (see invalidate_vitals_stats)."""
    connection = connections[alias]
    if connection.in_atomic_block:
        # Inside a transaction the rows may include writes that could still roll back;
        # then neither read nor fill the cache.
        return _compute(connection, patient_id)
    data_key, version_key = _cache_keys(patient_id)
    try:
        found = cache.get_many([data_key, version_key])
        version = found.get(version_key)
        if version is None:
            cache.add(version_key, uuid.uuid4().hex, timeout=None)
            version = cache.get(version_key)
    except Exception as exc:
        logger.warning("vitals statistics not cached: %s", type(exc).__name__)
        return _compute(connection, patient_id)
    cached = found.get(data_key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    # The version is read before the rows: a write committed after this point replaces it,
    # so an answer computed without that write is never served under the new one.
    stats = _compute(connection, patient_id)
    with suppress(Exception):
        cache.set(data_key, (version, stats), timeout=STATS_CACHE_SECONDS)
    return stats


def _compute(connection, patient_id: int) -> dict:
    """queryset_stats() of all the patient's readings, by the compiled statements."""
    points, totals = _compiled_statements(connection.alias)
    values = next(iter(points.run(connection, {_PATIENT: patient_id})), {})
    thirds = _thirds(values)
    slots = {_PATIENT: patient_id}
    for name in STAT_MEASURES:
        slots[_standin(name, 0)], slots[_standin(name, 1)] = thirds.get(name, _NO_THIRDS)
    return _assemble(values, _totals(totals.run(connection, slots)), thirds)


def _thirds(values: dict) -> dict:
    """{measure: (end of the oldest third, start of the newest third)} of the measures whose
    readings span some time, from the first and last dates of the points query."""
    thirds = {}
    for name in STAT_MEASURES:
        start, end = values.get(f"{name}__first"), values.get(f"{name}__last")
        if start is not None and start < end:
            third = (end - start) / 3
            thirds[name] = (start + third, end - third)
    return thirds


def _assemble(values: dict, totals: dict, thirds: dict) -> dict:
    measures = {}
    for name in STAT_MEASURES:
        count = totals[f"{name}__count"]
        trend = None
        if count:
            trend = VitalsTrend.STABLE.value
            if count >= 3 and name in thirds:
                trend = _trend(totals[f"{name}__old"], totals[f"{name}__new"])
        measures[name] = {
            "count": count,
            "average": _round(totals[f"{name}__average"]),
            "min": totals[f"{name}__min"],
            "max": totals[f"{name}__max"],
            "latest": values.get(f"{name}__latest"),
            "first_date": values.get(f"{name}__first"),
            "latest_date": values.get(f"{name}__last"),
            "trend": trend,
        }

    current_weight = values.get("weight__latest")
    first_weight = values.get("weight__earliest")
    # The newest stored BMI, unless a later weight makes it stale: then the one computed
    # from the newest weight and height (when there is a height).
    current_bmi = values.get("bmi__latest")
    bmi_date, weight_date = values.get("bmi__last"), values.get("weight__last")
    if current_bmi is None or (weight_date is not None and weight_date > bmi_date):
        current_bmi = compute_bmi(current_weight, values.get("height__latest")) or current_bmi
    return {
        "total_readings": totals["total"],
        "latest_reading_date": values.get("*__last"),
        "first_reading_date": values.get("*__first"),
        "avg_systolic_bp": measures["systolic_bp"]["average"],
        "avg_diastolic_bp": measures["diastolic_bp"]["average"],
        "avg_heart_rate": measures["heart_rate"]["average"],
        "avg_temperature": measures["temperature"]["average"],
        "current_temperature": values.get("temperature__latest"),
        "current_weight": current_weight,
        "current_bmi": current_bmi,
        "weight_change": (
            _round(current_weight - first_weight)
            if current_weight is not None and first_weight is not None
            else None
        ),
        "current_blood_glucose": values.get("blood_glucose__latest"),
        "current_a1c": values.get("a1c__latest"),
        # The contract's example spells these three differently; both are served.
        "blood_pressure_avg": {
            "systolic": measures["systolic_bp"]["average"],
            "diastolic": measures["diastolic_bp"]["average"],
        },
        "heart_rate_avg": measures["heart_rate"]["average"],
        "weight_trend": measures["weight"]["trend"],
        "measures": measures,
    }


def _having(queryset, name: str):
    # Spelled exactly like the partial indexes' condition, so that the database uses them.
    return queryset.filter(**{f"{name}__isnull": False})


def _points(base) -> dict:
    """Scalar subqueries: first and last date and latest value of every measure (and of all
    readings), and the first weight."""

    def first(queryset, field: str, *, newest: bool = False):
        order = ("-recorded_date", "-id") if newest else ("recorded_date", "id")
        return Subquery(queryset.order_by(*order).values(field)[:1])

    points = {
        "*__first": first(base, "recorded_date"),
        "*__last": first(base, "recorded_date", newest=True),
        "weight__earliest": first(_having(base, "weight"), "weight"),
    }
    for name in STAT_MEASURES:
        rows = _having(base, name)
        points[f"{name}__first"] = first(rows, "recorded_date")
        points[f"{name}__last"] = first(rows, "recorded_date", newest=True)
        points[f"{name}__latest"] = first(rows, name, newest=True)
    return points


# Bounds of a measure without thirds: the averages over them are ignored, and these make
# them cost nothing, so that the statement has the same shape whatever the readings.
_NO_THIRDS = (datetime(1000, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
# Databases where, for all of a patient's readings, one pass over the rows beats a pass per
# measure over its partial index (at 100,000 readings: PostgreSQL 45 against 100 ms; SQLite
# 180 against 55 ms, as SQLite reads each covering index fast but evaluates conditional
# aggregates slowly). With filters, one pass everywhere: a filter on another column
# (vital_type, glucose_context, search) would make each measure's pass read the table.
_ONE_PASS_VENDORS = {"postgresql"}


def _points_query(base, patient):
    """One row: the points of `base` (see _points)."""
    return Patient.objects.using(base.db).filter(pk=patient).values(**_points(base))


def _totals_query(base, thirds: dict, *, by_measure: bool = False):
    """The count of all readings, per measure count, average and extremes, and the averages
    over the thirds of `thirds` ({name: (end of the oldest third, start of the newest)}):
    one row of aggregates without GROUP BY, or `by_measure` one row per measure and per
    third (see _ONE_PASS_VENDORS). _totals() reads either."""
    if by_measure:
        return _totals_by_measure(base, thirds)
    number = FloatField()
    aggregates = {"total": Count("*")}
    for name in STAT_MEASURES:
        old_end, new_start = thirds.get(name, _NO_THIRDS)
        aggregates |= {
            f"{name}__count": Count(name),
            f"{name}__average": Avg(name, output_field=number),
            f"{name}__min": Min(name, output_field=number),
            f"{name}__max": Max(name, output_field=number),
            f"{name}__old": Avg(name, filter=Q(recorded_date__lte=old_end), output_field=number),
            f"{name}__new": Avg(name, filter=Q(recorded_date__gte=new_start), output_field=number),
        }
    return base.values(one=Value(1, IntegerField())).annotate(**aggregates)


def _totals_by_measure(base, thirds: dict):
    """UNION ALL of one aggregate row per measure and per third, each read from the
    measure's partial index (the thirds from a range of it)."""
    number = FloatField()
    empty = Value(None, number)

    def arm(label: str, rows, name: str | None, *, full: bool = True):
        if name is None:  # all readings
            fields = {"count": Count("*"), "average": empty, "low": empty, "high": empty}
        elif full:
            fields = {
                "count": Count(name),
                "average": Avg(name, output_field=number),
                "low": Min(name, output_field=number),
                "high": Max(name, output_field=number),
            }
        else:
            fields = {
                "count": Count(name),
                "average": Avg(name, output_field=number),
                "low": empty,
                "high": empty,
            }
        return rows.values(measure=Value(label)).annotate(**fields)

    arms = []
    for name in STAT_MEASURES:
        rows = _having(base, name)
        old_end, new_start = thirds.get(name, _NO_THIRDS)
        arms += [
            arm(name, rows, name),
            arm(f"{name}__old", rows.filter(recorded_date__lte=old_end), name, full=False),
            arm(f"{name}__new", rows.filter(recorded_date__gte=new_start), name, full=False),
        ]
    return arm("*", base, None).union(*arms, all=True)


def _totals(rows: list[dict]) -> dict:
    """The totals row of _totals_query, from either of its shapes."""
    if "measure" not in rows[0]:
        return rows[0]
    by_label = {row["measure"]: row for row in rows}
    totals = {"total": by_label["*"]["count"]}
    for name in STAT_MEASURES:
        row = by_label[name]
        totals |= {
            f"{name}__count": row["count"],
            f"{name}__average": row["average"],
            f"{name}__min": row["low"],
            f"{name}__max": row["high"],
            f"{name}__old": by_label[f"{name}__old"]["average"],
            f"{name}__new": by_label[f"{name}__new"]["average"],
        }
    return totals


# --- statements compiled once per process ---------------------------------------------------

_PATIENT = -918_273_645  # stand-in for the patient's id


def _standin(name: str, index: int) -> datetime:
    """Stand-in for a bound of a measure's thirds: a distinct moment no reading has."""
    position = 2 * STAT_MEASURES.index(name) + index
    return datetime(1001, 1, 1, tzinfo=UTC) + timedelta(minutes=position)


class _Statement:
    """A values() query compiled once: its SQL, its parameters with stand-ins
    (swapped per call for the real values) and Django's converters for its columns."""

    def __init__(self, queryset, standins: list):
        query = queryset.query
        self.compiler = query.get_compiler(queryset.db)
        self.sql, params = self.compiler.as_sql()
        self.names = [*query.extra_select, *query.values_select, *query.annotation_select]
        self.converters = self.compiler.get_converters(
            [expression for expression, _, _ in self.compiler.select]
        )
        self.params = list(params)
        # The compiled parameters are prepared values (a datetime is a string on SQLite):
        # find each stand-in by its prepared form.
        prepared = {self._prepare(standin): standin for standin in standins}
        self.slots = [
            (index, prepared[param])
            for index, param in enumerate(self.params)
            if isinstance(param, int | str | datetime) and param in prepared
        ]

    def _prepare(self, value):
        if isinstance(value, datetime):
            field = Vitals._meta.get_field("recorded_date")
            return field.get_db_prep_value(value, self.compiler.connection)
        return value

    def run(self, connection, values: dict) -> list[dict]:
        """The rows for these values of the stand-ins ({stand-in: value})."""
        params = list(self.params)
        for index, standin in self.slots:
            if standin in values:
                params[index] = self._prepare(values[standin])
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        return [dict(zip(self.names, row, strict=True)) for row in rows]


@lru_cache(maxsize=4)
def _compiled_statements(alias: str) -> tuple[_Statement, _Statement]:
    """The points and totals statements of all one patient's readings, for a database."""
    base = Vitals.objects.using(alias).filter(patient_id=_PATIENT).order_by()
    standins = {name: (_standin(name, 0), _standin(name, 1)) for name in STAT_MEASURES}
    bounds = [bound for pair in standins.values() for bound in pair]
    vendor = connections[alias].vendor
    return (
        _Statement(_points_query(base, _PATIENT), [_PATIENT]),
        _Statement(
            _totals_query(base, standins, by_measure=vendor not in _ONE_PASS_VENDORS),
            [_PATIENT, *bounds],
        ),
    )


# --- the cache of patient_stats -------------------------------------------------------------

# The cache is correct without expiry (every write of the ORM invalidates it); the expiry
# bounds what a write outside it (SQL by hand, a restored database) leaves stale.
STATS_CACHE_SECONDS = 15 * 60


def _cache_keys(patient_id: int) -> tuple[str, str]:
    return f"vitals-stats:{patient_id}", f"vitals-stats-version:{patient_id}"


def invalidate_vitals_stats(patient_ids, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Drops the cached statistics of these patients once the current transaction commits
    (at once outside one): their readings have changed."""
    keys = [key for pk in set(patient_ids) - {None} for key in _cache_keys(pk)]
    if keys:
        transaction.on_commit(lambda: _forget(keys), using=using)


def _forget(keys: list[str]) -> None:
    # The write has committed: a cache that cannot be reached must not turn it into an error.
    # What it still holds expires after STATS_CACHE_SECONDS.
    try:
        cache.delete_many(keys)
    except Exception as exc:
        logger.warning("vitals statistics cache not cleared: %s", type(exc).__name__)
