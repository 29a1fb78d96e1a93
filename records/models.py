"""Clinical record types. Each is a PatientOwnedModel; rules live in clean() and constraints."""

from __future__ import annotations

import math
import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinLengthValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from patients.models import PatientOwnedModel, TaggedMixin
from records.choices import MedicationRoute, MedicationStatus, MedicationType

MAX_REMINDER_TIMES = 12
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def normalise_reminder_times(times) -> list[str]:
    """Facility-local "HH:MM" strings: at most 12, no duplicates, sorted."""
    if times in (None, ""):
        return []
    if not isinstance(times, list) or not all(isinstance(t, str) for t in times):
        raise ValidationError({"reminder_times": 'Give a list of "HH:MM" times.'})
    bad = [t for t in times if not _HHMM.match(t.strip())]
    if bad:
        raise ValidationError({"reminder_times": f'Not an "HH:MM" time: {", ".join(bad[:3])}.'})
    cleaned = [t.strip() for t in times]
    if len(set(cleaned)) != len(cleaned):
        raise ValidationError({"reminder_times": "The same time is listed twice."})
    if len(cleaned) > MAX_REMINDER_TIMES:
        raise ValidationError(
            {"reminder_times": f"At most {MAX_REMINDER_TIMES} reminder times are allowed."}
        )
    return sorted(cleaned)


def validate_reminder_days(days) -> None:
    if days in (None, []):
        return
    if not isinstance(days, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days
    ):
        raise ValidationError("Give weekdays as numbers 0 (Monday) to 6 (Sunday).")
    if len(set(days)) != len(days):
        raise ValidationError("A weekday is listed twice.")


class Medication(TaggedMixin, PatientOwnedModel):
    """A medication the patient takes or took, with optional dose reminders."""

    medication_name = models.CharField(max_length=100, validators=[MinLengthValidator(2)])
    alternative_name = models.CharField(max_length=100, blank=True)
    medication_type = models.CharField(
        max_length=20, choices=MedicationType.choices, default=MedicationType.PRESCRIPTION
    )
    dosage = models.CharField(max_length=50, blank=True)
    frequency = models.CharField(max_length=50, blank=True)
    route = models.CharField(max_length=20, choices=MedicationRoute.choices, blank=True)
    indication = models.CharField(max_length=500, blank=True)
    effective_period_start = models.DateField(null=True, blank=True)
    effective_period_end = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=MedicationStatus.choices, default=MedicationStatus.ACTIVE
    )
    notes = models.TextField(max_length=1000, blank=True)
    side_effects = models.TextField(max_length=1000, blank=True)
    reminder_enabled = models.BooleanField(default=False)
    reminder_times = models.JSONField(default=list, blank=True)
    reminder_message = models.CharField(max_length=200, blank=True)
    reminder_days = models.JSONField(null=True, blank=True, validators=[validate_reminder_days])

    dashboard_key = "total_medications"
    dashboard_filters = {"active_medications": Q(status=MedicationStatus.ACTIVE)}

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_medication_pc"),
            models.Index(fields=["patient", "status"], name="records_medication_status"),
            models.Index(fields=["patient", "medication_name"], name="records_medication_name"),
            models.Index(fields=["reminder_enabled", "status"], name="records_medication_remind"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_period_end__isnull=True)
                | Q(effective_period_start__isnull=True)
                | Q(effective_period_end__gte=F("effective_period_start")),
                name="records_medication_period_order",
                violation_error_message="The end of the effective period is before its start.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.medication_name} {self.dosage}".strip()

    def clean(self):
        super().clean()
        self.reminder_times = normalise_reminder_times(self.reminder_times)
        if self.reminder_enabled and not self.reminder_times:
            raise ValidationError({"reminder_times": "Reminders need at least one time."})

    def save(self, *args, **kwargs):
        self.reminder_times = normalise_reminder_times(self.reminder_times)
        super().save(*args, **kwargs)


_GAUGE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,49}$")


class Gauge(PatientOwnedModel):
    """A self-rated score over time (mood, pain, sleep quality … or a name of one's own)."""

    gauge_type = models.CharField(max_length=50)
    value = models.FloatField()
    scale_min = models.IntegerField(default=1, validators=[MinValueValidator(-1000)])
    scale_max = models.IntegerField(default=10, validators=[MaxValueValidator(1000)])
    recorded_at = models.DateTimeField(default=timezone.now)
    notes = models.TextField(max_length=2000, blank=True)
    # For medication_adherence: which medication the score is about (same patient).
    medication = models.ForeignKey(
        Medication, null=True, blank=True, on_delete=models.SET_NULL, related_name="gauges"
    )

    dashboard_key = "total_gauges"

    class Meta(PatientOwnedModel.Meta):
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_gauge_pc"),
            models.Index(
                fields=["patient", "gauge_type", "recorded_at"], name="records_gauge_type"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gauge_type} {self.value:g}/{self.scale_max}"

    def clean(self):
        super().clean()
        self.gauge_type = re.sub(r"[\s-]+", "_", (self.gauge_type or "").strip().lower())
        errors = {}
        if self.value is not None and not math.isfinite(self.value):
            errors["value"] = "The value must be a finite number."
        if not _GAUGE_NAME.match(self.gauge_type):
            errors["gauge_type"] = (
                "Use a known type (mood, anxiety, energy, sleep_quality, pain, "
                "medication_adherence, social_interaction) or a name of 2-50 letters, digits "
                "and underscores."
            )
        if self.scale_min is not None and self.scale_max is not None:
            if self.scale_min >= self.scale_max:
                errors["scale_max"] = "scale_max must be greater than scale_min."
            elif (
                "value" not in errors
                and self.value is not None
                and not self.scale_min <= self.value <= self.scale_max
            ):
                errors["value"] = (
                    f"The value must lie between {self.scale_min} and {self.scale_max}."
                )
        if errors:
            raise ValidationError(errors)
