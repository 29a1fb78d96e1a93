"""Allergies, optionally to one of the patient's medications."""

from __future__ import annotations

from django.core.validators import MinLengthValidator
from django.db import models

from patients.models import PatientOwnedModel, RecordKind, TaggedMixin, validate_past_date
from records.models.medications import Medication

__all__ = ["CRITICAL_SEVERITIES", "Allergy", "AllergySeverity", "AllergyStatus"]


class AllergySeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    LIFE_THREATENING = "life-threatening", "Life-threatening"


class AllergyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    RESOLVED = "resolved", "Resolved"
    UNCONFIRMED = "unconfirmed", "Unconfirmed"


# Most dangerous first: the order of the critical list.
CRITICAL_SEVERITIES = (AllergySeverity.LIFE_THREATENING, AllergySeverity.SEVERE)


class Allergy(TaggedMixin, PatientOwnedModel):
    """Something the patient reacts to. "Critical" means severe or life-threatening."""

    allergen = models.CharField(max_length=200, validators=[MinLengthValidator(2)])
    severity = models.CharField(max_length=20, choices=AllergySeverity.choices)
    reaction = models.CharField(max_length=500, blank=True)
    onset_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    status = models.CharField(
        max_length=20, choices=AllergyStatus.choices, default=AllergyStatus.ACTIVE
    )
    notes = models.TextField(max_length=5000, blank=True)
    # The medication the patient is allergic to, when it is one of theirs (same patient).
    # Deleting the medication keeps the allergy, as the reference does.
    medication = models.ForeignKey(
        Medication, null=True, blank=True, on_delete=models.SET_NULL, related_name="allergies"
    )

    dashboard_key = "total_allergies"
    kind = RecordKind(
        name="allergy",
        plural="allergies",
        title="allergen",
        text=("reaction", "notes"),
        date="onset_date",
        search_aliases=(("identified_date", "onset_date"),),
    )

    class Meta(PatientOwnedModel.Meta):
        verbose_name_plural = "allergies"
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_allergy_pc"),
            models.Index(fields=["patient", "status"], name="records_allergy_status"),
        ]

    def __str__(self) -> str:
        return self.allergen
