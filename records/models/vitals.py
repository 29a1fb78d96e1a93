"""Vital signs: one reading (blood pressure, pulse, temperature, weight, glucose …) at a time.

Units are those of the reference, converted by clients: temperature °F, weight lb, height in,
blood glucose mg/dL, oxygen saturation %.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import (
    Avg,
    Count,
    FloatField,
    IntegerField,
    Max,
    Min,
    Q,
    Subquery,
    Value,
)
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from patients.models import Patient, PatientOwnedModel, PatientOwnedQuerySet
from records.reference import directory_link

__all__ = [
    "MEASURES",
    "Measure",
    "VitalType",
    "Vitals",
    "VitalsGlucoseContext",
    "VitalsQuerySet",
    "VitalsTrend",
    "compute_bmi",
]


class VitalsGlucoseContext(models.TextChoices):
    FASTING = "fasting", "Fasting"
    BEFORE_MEAL = "before_meal", "Before meal"
    AFTER_MEAL = "after_meal", "After meal"
    RANDOM = "random", "Random"


@dataclass(frozen=True)
class Measure:
    """A measurement column, its plausible range and how people name it."""

    field: str
    label: str
    low: float
    high: float
    unit: str = ""
    short: str = ""  # for index names, which are limited to 30 characters

    @property
    def range_message(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.label} must be between {self.low:g} and {self.high:g}{unit}."

    def validators(self) -> list:
        # Validator messages are %-formatted with their params: "%" must be doubled.
        message = self.range_message.replace("%", "%%")
        return [
            MinValueValidator(self.low, message=message),
            MaxValueValidator(self.high, message=message),
        ]


# Ranges: the contract's for blood pressure, pulse, temperature and pain; the project's brief
# for the rest (the reference's schema differs a little: SpO2 70-100, respiration 8-50,
# height 12-108, weight 1-992, A1C 0-20).
MEASURES: dict[str, Measure] = {
    m.field: m
    for m in (
        Measure("systolic_bp", "Systolic blood pressure", 60, 250, "mmHg", short="sys"),
        Measure("diastolic_bp", "Diastolic blood pressure", 30, 150, "mmHg", short="dia"),
        Measure("heart_rate", "Heart rate", 30, 250, "bpm", short="hr"),
        Measure("temperature", "Temperature", 80, 115, "°F", short="temp"),
        Measure("weight", "Weight", 1, 1000, "lb", short="wt"),
        Measure("height", "Height", 10, 108, "in", short="ht"),
        Measure("bmi", "BMI", 10, 100, short="bmi"),
        Measure("oxygen_saturation", "Oxygen saturation", 50, 100, "%", short="spo2"),
        Measure("respiratory_rate", "Respiratory rate", 5, 60, "breaths/min", short="rr"),
        Measure("blood_glucose", "Blood glucose", 20, 800, "mg/dL", short="glu"),
        Measure("a1c", "A1C", 3, 20, "%", short="a1c"),
        Measure("pain_scale", "Pain scale", 0, 10, short="pain"),
    )
}


class VitalType(models.TextChoices):
    """The `vital_type` filter: readings that carry that measurement."""

    BLOOD_PRESSURE = "blood_pressure", "Blood pressure"
    HEART_RATE = "heart_rate", "Heart rate"
    TEMPERATURE = "temperature", "Temperature"
    WEIGHT = "weight", "Weight"
    HEIGHT = "height", "Height"
    BMI = "bmi", "BMI"
    OXYGEN_SATURATION = "oxygen_saturation", "Oxygen saturation"
    RESPIRATORY_RATE = "respiratory_rate", "Respiratory rate"
    BLOOD_GLUCOSE = "blood_glucose", "Blood glucose"
    A1C = "a1c", "A1C"
    PAIN_SCALE = "pain_scale", "Pain scale"

    @classmethod
    def condition(cls, value: str) -> Q:
        if value == cls.BLOOD_PRESSURE:
            return Q(systolic_bp__isnull=False, diastolic_bp__isnull=False)
        return Q(**{f"{value}__isnull": False})


# A reading may be dated a little ahead of the server clock (device clocks, time zones).
FUTURE_TOLERANCE = timedelta(days=1)
EARLIEST_YEAR = 1900


def compute_bmi(weight_lb: float | None, height_in: float | None) -> float | None:
    """703 · lb / in², to one decimal (the reference's formula)."""
    if not weight_lb or not height_in:
        return None
    return round(703 * weight_lb / (height_in * height_in), 1)


def _measure_field(name: str, *, integer: bool = False):
    measure = MEASURES[name]
    field_class = models.SmallIntegerField if integer else models.FloatField
    return field_class(null=True, blank=True, validators=measure.validators())


# --- statistics -----------------------------------------------------------------------------

# A trend compares the newest third of a measure's time span with the oldest third; it is
# "stable" while the averages differ by at most this share of the older one.
TREND_TOLERANCE = 0.02
# The measures the statistics cover (pain and BMI included; height barely changes but helps
# compute a BMI when no reading has one).
STAT_MEASURES = tuple(MEASURES)


def _round(value, digits: int = 1):
    return None if value is None else round(float(value), digits)


class VitalsTrend(models.TextChoices):
    INCREASING = "increasing", "Increasing"
    DECREASING = "decreasing", "Decreasing"
    STABLE = "stable", "Stable"


def _trend(old, new) -> str:
    if old is None or new is None:
        return VitalsTrend.STABLE.value
    difference = new - old
    if abs(difference) <= abs(old) * TREND_TOLERANCE:
        return VitalsTrend.STABLE.value
    return (VitalsTrend.INCREASING if difference > 0 else VitalsTrend.DECREASING).value


class VitalsQuerySet(PatientOwnedQuerySet):
    def with_measure(self, vital_type: str):
        return self.filter(VitalType.condition(vital_type))

    # Every write of the ORM drops the cached statistics of the patients it touches (see
    # patient_stats); Vitals.save() and delete() do the same for one reading. Not signals:
    # a post_delete receiver would make deleting a patient load and signal each of its
    # readings instead of deleting them in one statement.
    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        invalidate_vitals_stats((obj.patient_id for obj in created), using=self.db)
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        before = self._patient_ids(self.filter(pk__in=[obj.pk for obj in objs]))
        updated = super().bulk_update(objs, fields, *args, **kwargs)
        invalidate_vitals_stats(before | {obj.patient_id for obj in objs}, using=self.db)
        return updated

    def update(self, **kwargs):
        before = self._patient_ids(self)
        updated = super().update(**kwargs)
        moved_to = kwargs.get("patient_id", kwargs.get("patient"))
        after = {getattr(moved_to, "pk", moved_to)} if moved_to is not None else set()
        invalidate_vitals_stats(before | after, using=self.db)
        return updated

    update.alters_data = True

    def delete(self):
        before = self._patient_ids(self)
        deleted = super().delete()
        invalidate_vitals_stats(before, using=self.db)
        return deleted

    delete.alters_data = True
    delete.queryset_only = True

    @staticmethod
    def _patient_ids(queryset) -> set[int]:
        return set(queryset.order_by().values_list("patient_id", flat=True).distinct())

    def stats(self, patient_id: int) -> dict:
        """Statistics of the readings in this queryset (one patient's), all in the database.

        Two queries whatever the number of readings:
        1. per measure: first and last date and latest value (and the first weight), each an
           ordered LIMIT 1 step on the measure's partial index (see Vitals.Meta), as scalar
           subqueries of the patient's row;
        2. one pass over the readings: the count of all, and per measure count, average,
           extremes and the averages over the oldest and the newest third of its time span
           (first to last reading, from 1.), as conditional aggregates. The trend compares
           the two thirds.
        See patient_stats for the statistics of all the patient's readings.
        """
        # The patient equality first (see VitalsViewSet.get_queryset): SQLite then plans each
        # lookup on the measure's index instead of sorting.
        base = (self.model.objects.for_patient(patient_id) & self).order_by()
        values = _points_query(base, patient_id).first() or {}
        thirds = _thirds(values)
        return _assemble(values, _totals(list(_totals_query(base, thirds))), thirds)

    def patient_stats(self, patient_id: int) -> dict:
        """stats() of all the patient's readings, cached per patient until a reading of
        the patient is written (see invalidate_vitals_stats); computed with statements
        compiled once per process (the same SQL for every patient but for parameters)."""
        connection = connections[self.db]
        if connection.in_atomic_block:
            # Inside a transaction the rows may include writes that could still roll back;
            # then neither read nor fill the cache.
            return self._patient_stats(connection, patient_id)
        data_key, version_key = _cache_keys(patient_id)
        found = cache.get_many([data_key, version_key])
        version = found.get(version_key)
        if version is None:
            cache.add(version_key, uuid.uuid4().hex, timeout=None)
            version = cache.get(version_key)
        cached = found.get(data_key)
        if version is not None and cached is not None and cached[0] == version:
            return cached[1]
        # The version is read before the rows: a write committed after this point replaces
        # it, so an answer computed without that write is never served under the new one.
        stats = self._patient_stats(connection, patient_id)
        cache.set(data_key, (version, stats), timeout=STATS_CACHE_SECONDS)
        return stats

    def _patient_stats(self, connection, patient_id: int) -> dict:
        points, totals = _compiled_statements(connection.alias)
        values = next(iter(points.run(connection, {_PATIENT: patient_id})), {})
        thirds = _thirds(values)
        slots = {_PATIENT: patient_id}
        for name, (old_end, new_start) in thirds.items():
            slots[_standin(name, 0)], slots[_standin(name, 1)] = old_end, new_start
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
        transaction.on_commit(lambda: cache.delete_many(keys), using=using)


class Vitals(PatientOwnedModel):
    """One vital-signs reading. At least one measurement; BMI follows weight and height."""

    recorded_date = models.DateTimeField(
        help_text="When the reading was taken (naive values are facility-local time)."
    )
    systolic_bp = _measure_field("systolic_bp", integer=True)
    diastolic_bp = _measure_field("diastolic_bp", integer=True)
    heart_rate = _measure_field("heart_rate", integer=True)
    temperature = _measure_field("temperature")
    weight = _measure_field("weight")
    height = _measure_field("height")
    # Range-checked in clean(): a BMI computed from in-range weight and height is kept as is.
    bmi = models.FloatField(null=True, blank=True)
    oxygen_saturation = _measure_field("oxygen_saturation")
    respiratory_rate = _measure_field("respiratory_rate", integer=True)
    blood_glucose = _measure_field("blood_glucose")
    glucose_context = models.CharField(
        max_length=20, choices=VitalsGlucoseContext.choices, blank=True
    )
    a1c = _measure_field("a1c")
    pain_scale = _measure_field("pain_scale", integer=True)
    location = models.CharField(max_length=100, blank=True)
    device_used = models.CharField(max_length=100, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    # Set by device imports ("dexcom_clarity"); empty for readings entered by hand.
    import_source = models.CharField(max_length=50, blank=True, editable=False)
    practitioner = directory_link("Practitioner", "Who took the reading.")

    objects = VitalsQuerySet.as_manager()

    dashboard_key = "total_vitals"

    class Meta(PatientOwnedModel.Meta):
        verbose_name = "vitals"
        verbose_name_plural = "vitals"
        ordering = ["-recorded_date", "-id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_vitals_pc"),
            # Lists, date ranges and "latest" walk this one in order.
            models.Index(fields=["patient", "recorded_date", "id"], name="records_vitals_date"),
            models.Index(
                fields=["patient", "glucose_context", "recorded_date"],
                name="records_vitals_glucose_ctx",
            ),
            # Listing or removing one imported day (device imports, a later issue).
            models.Index(
                fields=["patient", "import_source", "recorded_date"], name="records_vitals_import"
            ),
            # One small partial index per measure: the vital_type filter, the statistics and
            # "latest of a measure" read only the readings that have that measure, in date
            # order, without touching the table (the value is in the index).
            *(
                models.Index(
                    fields=["patient", "recorded_date", name],
                    condition=Q(**{f"{name}__isnull": False}),
                    name=f"records_vitals_has_{measure.short}",
                )
                for name, measure in MEASURES.items()
            ),
        ]

    def __str__(self) -> str:
        parts = []
        if self.systolic_bp is not None and self.diastolic_bp is not None:
            parts.append(f"{self.systolic_bp}/{self.diastolic_bp}")
        if self.heart_rate is not None:
            parts.append(f"{self.heart_rate} bpm")
        if self.weight is not None:
            parts.append(f"{self.weight:g} lb")
        if self.blood_glucose is not None:
            parts.append(f"glucose {self.blood_glucose:g}")
        when = self.recorded_date.strftime("%Y-%m-%d %H:%M") if self.recorded_date else "?"
        return f"Vitals {when}" + (f" ({', '.join(parts)})" if parts else "")

    def has_measurement(self) -> bool:
        return any(getattr(self, name) is not None for name in MEASURES)

    def fill_bmi(self) -> None:
        if self.bmi is None:
            self.bmi = compute_bmi(self.weight, self.height)

    def clean(self):
        super().clean()
        errors: dict[str, str] = {}
        if (
            self.systolic_bp is not None
            and self.diastolic_bp is not None
            and self.diastolic_bp >= self.systolic_bp
        ):
            errors["diastolic_bp"] = "Diastolic blood pressure must be lower than systolic."
        if self.recorded_date is not None:
            if self.recorded_date > timezone.now() + FUTURE_TOLERANCE:
                errors["recorded_date"] = "The reading cannot be dated in the future."
            elif self.recorded_date.year < EARLIEST_YEAR:
                errors["recorded_date"] = f"The reading cannot be dated before {EARLIEST_YEAR}."
        if self.bmi is not None:
            measure = MEASURES["bmi"]
            computed = compute_bmi(self.weight, self.height)
            # A BMI that is just the computed one is accepted even outside the usual range
            # (a premature baby's), so such a reading stays editable.
            if self.bmi != computed and not measure.low <= self.bmi <= measure.high:
                errors["bmi"] = measure.range_message
        if not self.has_measurement():
            names = ", ".join(MEASURES)
            errors[NON_FIELD_ERRORS] = f"Give at least one measurement ({names})."
        if errors:
            raise ValidationError(errors)
        self.fill_bmi()

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # A save may move the reading to another patient: both patients' statistics change.
        instance._stored_patient_id = instance.__dict__.get("patient_id")
        return instance

    def _touched_patients(self) -> set:
        return {self.patient_id, getattr(self, "_stored_patient_id", None)}

    def save(self, *args, **kwargs):
        self.fill_bmi()
        super().save(*args, **kwargs)
        invalidate_vitals_stats(self._touched_patients(), using=self._state.db)
        self._stored_patient_id = self.patient_id

    def delete(self, *args, **kwargs):
        touched, using = self._touched_patients(), self._state.db
        deleted = super().delete(*args, **kwargs)
        invalidate_vitals_stats(touched, using=using)
        return deleted


@receiver(post_delete, sender=Patient, dispatch_uid="records.vitals_stats_of_deleted_patient")
def _drop_stats_of_deleted_patient(sender, instance, using, **kwargs):
    # The patient's readings went with it, by a cascade that bypasses VitalsQuerySet.
    invalidate_vitals_stats([instance.pk], using=using)
