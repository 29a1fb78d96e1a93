"""Procedures (operations, tests, interventions), optionally for one of the patient's conditions."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinLengthValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from patients.models import PatientOwnedModel, RecordKind, TaggedMixin
from records.models.conditions import Condition
from records.reference import directory_link

__all__ = [
    "MAX_SCHEDULE_AHEAD_DAYS",
    "Procedure",
    "ProcedureOutcome",
    "ProcedureStatus",
]

MAX_DURATION_MINUTES = 24 * 60
# How far ahead a scheduled (or postponed) procedure may be planned.
MAX_SCHEDULE_AHEAD_DAYS = 3650


class ProcedureStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    POSTPONED = "postponed", "Postponed"


class ProcedureOutcome(models.TextChoices):
    SUCCESSFUL = "successful", "Successful"
    ABNORMAL = "abnormal", "Abnormal"
    COMPLICATIONS = "complications", "Complications"
    INCONCLUSIVE = "inconclusive", "Inconclusive"
    PENDING = "pending", "Pending"


# Statuses whose date lies ahead; the others happened, so their date is not in the future.
PLANNED_STATUSES = (ProcedureStatus.SCHEDULED, ProcedureStatus.POSTPONED)


class Procedure(TaggedMixin, PatientOwnedModel):
    """A procedure the patient had or will have.

    The API also calls `procedure_code` "code", `procedure_date` "date" and `complications`
    "procedure_complications".
    """

    procedure_name = models.CharField(max_length=300, validators=[MinLengthValidator(2)])
    procedure_code = models.CharField(max_length=50, blank=True)
    procedure_type = models.CharField(max_length=50, blank=True)
    procedure_date = models.DateField()
    status = models.CharField(max_length=20, choices=ProcedureStatus.choices)
    outcome = models.CharField(max_length=20, choices=ProcedureOutcome.choices, blank=True)
    description = models.TextField(max_length=1000, blank=True)
    facility = models.CharField(max_length=300, blank=True)
    procedure_setting = models.CharField(max_length=100, blank=True)
    procedure_duration = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DURATION_MINUTES)],
        help_text="Minutes",
    )
    anesthesia_type = models.CharField(max_length=100, blank=True)
    anesthesia_notes = models.TextField(max_length=1000, blank=True)
    complications = models.TextField(max_length=1000, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    # The condition the procedure is for (same patient); deleting it keeps the procedure.
    condition = models.ForeignKey(
        Condition, null=True, blank=True, on_delete=models.SET_NULL, related_name="procedures"
    )
    practitioner = directory_link("Practitioner", "Who performed it.")

    dashboard_key = "total_procedures"
    kind = RecordKind(
        name="procedure",
        plural="procedures",
        title="procedure_name",
        text=("procedure_code", "description", "facility", "outcome", "notes"),
        date="procedure_date",
        search_aliases=(("name", "procedure_name"),),
    )

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_procedure_pc"),
            models.Index(fields=["patient", "status"], name="records_procedure_status"),
            models.Index(fields=["patient", "procedure_date"], name="records_procedure_date"),
        ]

    def __str__(self) -> str:
        return f"{self.procedure_name} ({self.procedure_date})"

    def clean(self):
        super().clean()
        when, today = self.procedure_date, timezone.localdate()
        if not when or not self.status:
            return
        if self.status in PLANNED_STATUSES:
            if when > today + timedelta(days=MAX_SCHEDULE_AHEAD_DAYS):
                raise ValidationError(
                    {"procedure_date": "A procedure cannot be planned more than 10 years ahead."}
                )
        elif when > today:
            raise ValidationError(
                {
                    "procedure_date": f"The date of a {self.get_status_display().lower()} "
                    "procedure cannot be in the future."
                }
            )
