"""Encounters: visits to a practitioner (the UI calls them visits)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinLengthValidator, MinValueValidator
from django.db import models

from patients.models import PatientOwnedModel, RecordKind, TaggedMixin, validate_past_date
from records.models.conditions import Condition
from records.reference import directory_link

__all__ = ["Encounter", "EncounterPriority"]


class EncounterPriority(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    EMERGENCY = "emergency", "Emergency"


class Encounter(TaggedMixin, PatientOwnedModel):
    """One visit: why, when, what was found and what was decided.

    The contract also names `visit_type` "encounter_type" and `date` "encounter_date"; the
    serializer accepts and returns both spellings.
    """

    reason = models.CharField(max_length=200, validators=[MinLengthValidator(2)])
    date = models.DateField(validators=[validate_past_date])
    visit_type = models.CharField(max_length=100, blank=True)
    chief_complaint = models.CharField(max_length=500, blank=True)
    diagnosis = models.TextField(max_length=1000, blank=True)
    treatment_plan = models.TextField(max_length=2000, blank=True)
    follow_up_instructions = models.TextField(max_length=1000, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    location = models.CharField(max_length=200, blank=True)
    priority = models.CharField(max_length=20, choices=EncounterPriority.choices, blank=True)
    notes = models.TextField(max_length=1000, blank=True)
    # SET_NULL: deleting a condition must never fail because a visit mentions it (the
    # reference has no ON DELETE here and answers 500).
    condition = models.ForeignKey(
        Condition,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="encounters",
    )
    practitioner = directory_link("Practitioner", "Who the visit was with.")

    dashboard_key = "total_encounters"
    kind = RecordKind(
        name="encounter",
        plural="encounters",
        title="reason",
        text=("visit_type", "chief_complaint", "diagnosis", "treatment_plan", "location", "notes"),
        date="date",
    )

    class Meta(PatientOwnedModel.Meta):
        ordering = ["-date", "-id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_encounter_pc"),
            models.Index(fields=["patient", "date"], name="records_encounter_date"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.date})"

    def clean(self):
        super().clean()
        # The API refuses this earlier (400); this guards the admin and commands.
        if self.condition_id and self.patient_id and self.condition.patient_id != self.patient_id:
            raise ValidationError({"condition": "The condition belongs to another patient."})
