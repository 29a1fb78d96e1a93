"""Conditions (diagnoses) and their links to medications."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import Q

from patients.core.links import PatientLinkModel
from patients.models import PatientOwnedModel, RecordKind, TaggedMixin, validate_past_date
from records.models.medications import Medication
from records.reference import directory_link

__all__ = ["Condition", "ConditionMedication", "ConditionSeverity", "ConditionStatus"]


class ConditionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    RESOLVED = "resolved", "Resolved"
    CHRONIC = "chronic", "Chronic"
    RECURRENCE = "recurrence", "Recurrence"
    RELAPSE = "relapse", "Relapse"


class ConditionSeverity(models.TextChoices):
    # The contract lists mild, moderate and severe; the reference adds critical, and the web
    # app's condition form offers life-threatening (as for allergies and injuries).
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    CRITICAL = "critical", "Critical"
    LIFE_THREATENING = "life-threatening", "Life-threatening"


class Condition(TaggedMixin, PatientOwnedModel):
    """A diagnosis. The contract calls the name condition_name; the reference diagnosis."""

    condition_name = models.CharField(max_length=500, validators=[MinLengthValidator(2)])
    status = models.CharField(
        max_length=20, choices=ConditionStatus.choices, default=ConditionStatus.ACTIVE
    )
    severity = models.CharField(max_length=20, choices=ConditionSeverity.choices, blank=True)
    diagnosed_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    onset_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    end_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    icd10_code = models.CharField(max_length=10, blank=True)
    snomed_code = models.CharField(max_length=20, blank=True)
    code_description = models.CharField(max_length=500, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    practitioner = directory_link("Practitioner", "Who diagnosed it.")
    medications = models.ManyToManyField(
        Medication, through="ConditionMedication", related_name="conditions", blank=True
    )

    dashboard_key = "total_conditions"
    kind = RecordKind(
        name="condition",
        plural="conditions",
        title="condition_name",
        text=("icd10_code", "snomed_code", "code_description", "notes"),
        date="diagnosed_date",
    )
    dashboard_filters = {"active_conditions": Q(status=ConditionStatus.ACTIVE)}

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_condition_pc"),
            models.Index(fields=["patient", "status"], name="records_condition_status"),
        ]

    def __str__(self) -> str:
        return self.condition_name

    def clean(self):
        super().clean()
        self.icd10_code = self.icd10_code.strip().upper()
        start = self.onset_date or self.diagnosed_date
        if self.end_date and start and self.end_date < start:
            raise ValidationError({"end_date": "The end date is before the condition began."})


class ConditionMedication(PatientLinkModel):
    """A medication taken for a condition."""

    condition = models.ForeignKey(
        Condition, on_delete=models.CASCADE, related_name="medication_links"
    )
    medication = models.ForeignKey(
        Medication, on_delete=models.CASCADE, related_name="condition_links"
    )
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("condition", "medication")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["condition", "medication"], name="records_condition_medication_unique"
            )
        ]
