"""Medications, with dose reminders."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from patients.models import PatientOwnedModel, RecordKind, TaggedMixin
from records.reference import directory_link

__all__ = [
    "Medication",
    "MedicationDose",
    "MedicationDoseSource",
    "MedicationDoseStatus",
    "MedicationRoute",
    "MedicationStatus",
    "MedicationType",
    "normalise_reminder_times",
    "validate_reminder_days",
]


class MedicationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    STOPPED = "stopped", "Stopped"
    ON_HOLD = "on-hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class MedicationType(models.TextChoices):
    PRESCRIPTION = "prescription", "Prescription"
    OTC = "otc", "Over the counter"
    SUPPLEMENT = "supplement", "Supplement"
    HERBAL = "herbal", "Herbal"


class MedicationRoute(models.TextChoices):
    ORAL = "oral", "Oral"
    INJECTION = "injection", "Injection"
    TOPICAL = "topical", "Topical"
    INTRAVENOUS = "intravenous", "Intravenous"
    INTRAMUSCULAR = "intramuscular", "Intramuscular"
    SUBCUTANEOUS = "subcutaneous", "Subcutaneous"
    INHALATION = "inhalation", "Inhalation"
    NASAL = "nasal", "Nasal"
    RECTAL = "rectal", "Rectal"
    SUBLINGUAL = "sublingual", "Sublingual"


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
    practitioner = directory_link("Practitioner", "Who prescribed it.")
    pharmacy = directory_link("Pharmacy", "Where it is filled.")

    dashboard_key = "total_medications"
    kind = RecordKind(
        name="medication",
        plural="medications",
        title="medication_name",
        text=("alternative_name", "dosage", "indication", "notes", "side_effects"),
        date="effective_period_start",
        search_aliases=(("start_date", "effective_period_start"),),
    )
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


class MedicationDoseStatus(models.TextChoices):
    TAKEN = "taken", "Taken"
    SKIPPED = "skipped", "Skipped"


class MedicationDoseSource(models.TextChoices):
    API = "api", "API"
    LINK = "link", "Reminder link"


class MedicationDose(models.Model):
    """The dose log: what happened at one scheduled dose (slot) of a medication.

    One row per (medication, slot); answering the slot again changes that row. The patient
    is the medication's, so the row goes with the medication and is visible exactly where the
    medication is (records/services/doses.py holds the rules for writing it).
    """

    medication = models.ForeignKey(Medication, on_delete=models.CASCADE, related_name="doses")
    slot = models.DateTimeField(help_text="The scheduled dose time this answers.")
    status = models.CharField(max_length=10, choices=MedicationDoseStatus.choices)
    note = models.CharField(max_length=500, blank=True)
    source = models.CharField(
        max_length=10, choices=MedicationDoseSource.choices, default=MedicationDoseSource.API
    )
    # Kept when the account goes: the answer stays part of the patient's record.
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-slot", "-id"]
        constraints = [
            # Also the index of every read: a medication's doses by slot.
            models.UniqueConstraint(
                fields=["medication", "slot"],
                name="records_medicationdose_one_per_slot",
                violation_error_message="This dose has an answer already.",
            )
        ]

    def __str__(self) -> str:
        when = timezone.localtime(self.slot) if self.slot else None
        return f"{self.medication} at {when:%Y-%m-%d %H:%M}: {self.get_status_display()}"
