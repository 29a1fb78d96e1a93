"""Gauges: self-rated scores over time (absorbed from another product's patient API)."""

from __future__ import annotations

import math
import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from patients.models import PatientOwnedModel, RecordKind
from records.models.medications import Medication

__all__ = ["Gauge", "GaugeType"]


class GaugeType(models.TextChoices):
    MOOD = "mood", "Mood"
    ANXIETY = "anxiety", "Anxiety"
    ENERGY = "energy", "Energy"
    SLEEP_QUALITY = "sleep_quality", "Sleep quality"
    PAIN = "pain", "Pain"
    MEDICATION_ADHERENCE = "medication_adherence", "Medication adherence"
    SOCIAL_INTERACTION = "social_interaction", "Social interaction"


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
    kind = RecordKind(
        name="gauge",
        plural="gauges",
        title="gauge_type",
        text=("notes",),
        date="recorded_at",
    )

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
