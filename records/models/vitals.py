"""Vital signs: one reading (blood pressure, pulse, temperature, weight, glucose …) at a time.

Units are those of the reference, converted by clients: temperature °F, weight lb, height in,
blood glucose mg/dL, oxygen saturation %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from patients.models import Patient, PatientOwnedModel, PatientOwnedQuerySet, RecordKind
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


# The statistics themselves are in vitals_stats.py.
class VitalsTrend(models.TextChoices):
    INCREASING = "increasing", "Increasing"
    DECREASING = "decreasing", "Decreasing"
    STABLE = "stable", "Stable"


class VitalsQuerySet(PatientOwnedQuerySet):
    def with_measure(self, vital_type: str):
        return self.filter(VitalType.condition(vital_type))

    # Every write of the ORM drops the cached statistics of the patients it touches (see
    # patient_stats); Vitals.save() and delete() do the same for one reading. Not signals:
    # a post_delete receiver would make deleting a patient load and signal each of its
    # readings instead of deleting them in one statement.
    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        _invalidate((obj.patient_id for obj in created), using=self.db)
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        before = self._patient_ids(self.filter(pk__in=[obj.pk for obj in objs]))
        updated = super().bulk_update(objs, fields, *args, **kwargs)
        _invalidate(before | {obj.patient_id for obj in objs}, using=self.db)
        return updated

    def update(self, **kwargs):
        before = self._patient_ids(self)
        updated = super().update(**kwargs)
        moved_to = kwargs.get("patient_id", kwargs.get("patient"))
        after = {getattr(moved_to, "pk", moved_to)} if moved_to is not None else set()
        _invalidate(before | after, using=self.db)
        return updated

    update.alters_data = True

    def delete(self):
        before = self._patient_ids(self)
        deleted = super().delete()
        _invalidate(before, using=self.db)
        return deleted

    delete.alters_data = True
    delete.queryset_only = True

    @staticmethod
    def _patient_ids(queryset) -> set[int]:
        return set(queryset.order_by().values_list("patient_id", flat=True).distinct())

    def stats(self, patient_id: int) -> dict:
        """Statistics of the readings in this queryset (one patient's), all in the database,
        in two queries whatever the number of readings (see vitals_stats.py)."""
        from records.models.vitals_stats import queryset_stats

        return queryset_stats(self, patient_id)

    def patient_stats(self, patient_id: int) -> dict:
        """stats() of all the patient's readings, cached per patient until one of its
        readings is written, with statements compiled once per process."""
        from records.models.vitals_stats import patient_stats

        return patient_stats(self.db, patient_id)


def _invalidate(patient_ids, *, using: str) -> None:
    from records.models.vitals_stats import invalidate_vitals_stats

    invalidate_vitals_stats(patient_ids, using=using)


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
    kind = RecordKind(
        name="vital",
        plural="vitals",
        title="notes",
        text=("location", "device_used"),
        date="recorded_date",
        units=tuple((m.field, m.unit) for m in MEASURES.values() if m.unit),
    )

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
        _invalidate(self._touched_patients(), using=self._state.db)
        self._stored_patient_id = self.patient_id

    def delete(self, *args, **kwargs):
        touched, using = self._touched_patients(), self._state.db
        deleted = super().delete(*args, **kwargs)
        _invalidate(touched, using=using)
        return deleted


@receiver(post_delete, sender=Patient, dispatch_uid="records.vitals_stats_of_deleted_patient")
def _drop_stats_of_deleted_patient(sender, instance, using, **kwargs):
    # The patient's readings went with it, by a cascade that bypasses VitalsQuerySet.
    _invalidate([instance.pk], using=using)
