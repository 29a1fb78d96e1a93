"""Treatments (treatment plans), medical equipment, and the treatment links to medications,
encounters, lab results and equipment."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinLengthValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from patients.core.links import PatientLinkModel
from patients.models import PatientOwnedModel, RecordKind, TaggedMixin, validate_past_date
from records.models.conditions import Condition
from records.models.encounters import Encounter
from records.models.labs import LabResult
from records.models.medications import Medication
from records.reference import directory_link

__all__ = [
    "MAX_TREATMENT_PLAN_AHEAD_DAYS",
    "MedicalEquipment",
    "MedicalEquipmentStatus",
    "ONGOING_TREATMENT_STATUSES",
    "SERVICE_DUE_WITHIN_DAYS",
    "Treatment",
    "TreatmentEncounter",
    "TreatmentEncounterVisitLabel",
    "TreatmentEquipment",
    "TreatmentLabResult",
    "TreatmentLabResultPurpose",
    "TreatmentMedication",
    "TreatmentMode",
    "TreatmentStatus",
]

# How far ahead a planned (or paused) treatment may start.
MAX_TREATMENT_PLAN_AHEAD_DAYS = 3650
# Equipment whose next service falls within this many days (or is overdue) needs service.
SERVICE_DUE_WITHIN_DAYS = 30


# --- treatments -----------------------------------------------------------------------------


class TreatmentStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    ON_HOLD = "on_hold", "On hold"


class TreatmentMode(models.TextChoices):
    # Schedule and dosage live on the treatment itself.
    SIMPLE = "simple", "Simple"
    # Medication-centric: dosage, schedule (later prescriber and pharmacy) per linked medication.
    ADVANCED = "advanced", "Advanced"


ONGOING_TREATMENT_STATUSES = (TreatmentStatus.ACTIVE, TreatmentStatus.IN_PROGRESS)
# Statuses whose start may lie ahead; the others have begun, so their start is not in the future.
PLANNED_TREATMENT_STATUSES = (TreatmentStatus.PLANNED, TreatmentStatus.ON_HOLD)


class Treatment(TaggedMixin, PatientOwnedModel):
    """A treatment plan, optionally for one of the patient's conditions."""

    treatment_name = models.CharField(max_length=300, validators=[MinLengthValidator(2)])
    treatment_type = models.CharField(max_length=300, blank=True)
    treatment_category = models.CharField(max_length=200, blank=True)
    description = models.TextField(max_length=5000, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    frequency = models.CharField(max_length=100, blank=True)
    dosage = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=20, choices=TreatmentStatus.choices, default=TreatmentStatus.ACTIVE
    )
    mode = models.CharField(
        max_length=10, choices=TreatmentMode.choices, default=TreatmentMode.SIMPLE
    )
    outcome = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=200, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    # The condition treated (same patient); deleting the condition keeps the treatment.
    condition = models.ForeignKey(
        Condition, null=True, blank=True, on_delete=models.SET_NULL, related_name="treatments"
    )
    practitioner = directory_link("Practitioner", "Who prescribed it.")
    medications = models.ManyToManyField(
        Medication, through="TreatmentMedication", related_name="treatments", blank=True
    )
    encounters = models.ManyToManyField(
        Encounter, through="TreatmentEncounter", related_name="treatments", blank=True
    )
    lab_results = models.ManyToManyField(
        LabResult, through="TreatmentLabResult", related_name="treatments", blank=True
    )
    equipment = models.ManyToManyField(
        "MedicalEquipment", through="TreatmentEquipment", related_name="treatments", blank=True
    )

    dashboard_key = "total_treatments"
    kind = RecordKind(
        name="treatment",
        plural="treatments",
        title="treatment_name",
        text=("treatment_type", "treatment_category", "description", "location", "notes"),
        date="start_date",
    )

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_treatment_pc"),
            models.Index(fields=["patient", "status"], name="records_treatment_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=F("start_date")),
                name="records_treatment_date_order",
                violation_error_message="The end date is before the start date.",
            )
        ]

    def __str__(self) -> str:
        return self.treatment_name

    def clean(self):
        super().clean()
        errors: dict[str, str] = {}
        start, today = self.start_date, timezone.localdate()
        if self.end_date and start and self.end_date < start:
            errors["end_date"] = "The end date is before the start date."
        if start and self.status in PLANNED_TREATMENT_STATUSES:
            if start > today + timedelta(days=MAX_TREATMENT_PLAN_AHEAD_DAYS):
                errors["start_date"] = "A treatment cannot be planned more than 10 years ahead."
        elif start and self.status and start > today:
            label = self.get_status_display().lower()
            errors["start_date"] = f"The start of a {label} treatment cannot be in the future."
        # The API refuses this earlier (400); this guards the admin and commands.
        if self.condition_id and self.patient_id and self.condition.patient_id != self.patient_id:
            errors["condition"] = "The condition belongs to another patient."
        if errors:
            raise ValidationError(errors)


# --- medical equipment ----------------------------------------------------------------------


class MedicalEquipmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    REPLACED = "replaced", "Replaced"
    RETURNED = "returned", "Returned"
    LOST = "lost", "Lost"


class MedicalEquipment(TaggedMixin, PatientOwnedModel):
    """A device the patient uses (CPAP, nebulizer, glucose monitor …), with its service dates.

    The API also calls `equipment_name` "name".
    """

    equipment_name = models.CharField(max_length=200, validators=[MinLengthValidator(2)])
    equipment_type = models.CharField(max_length=100, validators=[MinLengthValidator(2)])
    manufacturer = models.CharField(max_length=200, blank=True)
    model_number = models.CharField(max_length=100, blank=True)
    serial_number = models.CharField(max_length=100, blank=True)
    prescribed_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    last_service_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    next_service_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=MedicalEquipmentStatus.choices, default=MedicalEquipmentStatus.ACTIVE
    )
    usage_instructions = models.TextField(max_length=5000, blank=True)
    supplier = models.CharField(max_length=200, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    practitioner = directory_link("Practitioner", "Who prescribed it.")

    dashboard_key = "total_medical_equipment"
    kind = RecordKind(
        name="medical_equipment",
        plural="medical_equipment",
        title="equipment_name",
        text=("equipment_type", "manufacturer", "model_number", "supplier", "notes"),
        date="prescribed_date",
    )

    class Meta(PatientOwnedModel.Meta):
        verbose_name = "medical equipment"
        verbose_name_plural = "medical equipment"
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_equipment_pc"),
            models.Index(fields=["patient", "status"], name="records_equipment_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(next_service_date__isnull=True)
                | Q(last_service_date__isnull=True)
                | Q(next_service_date__gte=F("last_service_date")),
                name="records_equipment_service_order",
                violation_error_message="The next service date is before the last service date.",
            )
        ]

    def __str__(self) -> str:
        return self.equipment_name

    def clean(self):
        super().clean()
        self.equipment_type = (self.equipment_type or "").strip()
        last, following = self.last_service_date, self.next_service_date
        if last and following and following < last:
            raise ValidationError(
                {"next_service_date": "The next service date is before the last service date."}
            )


# --- links ----------------------------------------------------------------------------------


class TreatmentMedication(PatientLinkModel):
    """A medication of a treatment plan, with the plan's own overrides of its schedule.

    The API shows effective values: the override when set, else the medication's own.
    """

    treatment = models.ForeignKey(
        Treatment, on_delete=models.CASCADE, related_name="medication_links"
    )
    medication = models.ForeignKey(
        Medication, on_delete=models.CASCADE, related_name="treatment_links"
    )
    specific_dosage = models.CharField(max_length=200, blank=True)
    specific_frequency = models.CharField(max_length=100, blank=True)
    specific_duration = models.CharField(max_length=100, blank=True)
    timing_instructions = models.CharField(max_length=300, blank=True)
    specific_start_date = models.DateField(null=True, blank=True)
    specific_end_date = models.DateField(null=True, blank=True)
    relevance_note = models.CharField(max_length=500, blank=True)
    specific_prescriber = directory_link("Practitioner", "Who prescribes it for this plan.")
    specific_pharmacy = directory_link("Pharmacy", "Where it is filled for this plan.")

    link_sides = ("treatment", "medication")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["treatment", "medication"], name="records_treatment_medication_unique"
            ),
            models.CheckConstraint(
                condition=Q(specific_end_date__isnull=True)
                | Q(specific_start_date__isnull=True)
                | Q(specific_end_date__gte=F("specific_start_date")),
                name="records_treatment_medication_date_order",
                violation_error_message="The specific end date is before the specific start date.",
            ),
        ]

    def clean(self):
        super().clean()
        start, end = self.specific_start_date, self.specific_end_date
        if start and end and end < start:
            raise ValidationError(
                {"specific_end_date": "The specific end date is before the specific start date."}
            )

    # --- effective values (the medication must be loaded with the link) ---------------------

    @property
    def effective_dosage(self) -> str:
        return self.specific_dosage or self.medication.dosage

    @property
    def effective_frequency(self) -> str:
        return self.specific_frequency or self.medication.frequency

    @property
    def effective_start_date(self):
        return self.specific_start_date or self.medication.effective_period_start

    @property
    def effective_end_date(self):
        """The override; else the medication's end, except that a plan which starts the
        medication again after that end shows it as ongoing (null) rather than already over."""
        if self.specific_end_date:
            return self.specific_end_date
        medication_end = self.medication.effective_period_end
        if (
            self.specific_start_date
            and medication_end
            and medication_end < self.specific_start_date
        ):
            return None
        return medication_end

    @property
    def effective_prescriber(self):
        return self.specific_prescriber or self.medication.practitioner

    @property
    def effective_pharmacy(self):
        return self.specific_pharmacy or self.medication.pharmacy


class TreatmentEncounterVisitLabel(models.TextChoices):
    INITIAL = "initial", "Initial"
    FOLLOW_UP = "follow_up", "Follow-up"
    REVIEW = "review", "Review"
    FINAL = "final", "Final"
    OTHER = "other", "Other"


class TreatmentEncounter(PatientLinkModel):
    """A visit that belongs to a treatment plan (its first visit, a follow-up …)."""

    treatment = models.ForeignKey(
        Treatment, on_delete=models.CASCADE, related_name="encounter_links"
    )
    encounter = models.ForeignKey(
        Encounter, on_delete=models.CASCADE, related_name="treatment_links"
    )
    visit_label = models.CharField(
        max_length=20, choices=TreatmentEncounterVisitLabel.choices, blank=True
    )
    visit_sequence = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("treatment", "encounter")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["treatment", "encounter"], name="records_treatment_encounter_unique"
            )
        ]


class TreatmentLabResultPurpose(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    MONITORING = "monitoring", "Monitoring"
    OUTCOME = "outcome", "Outcome"
    SAFETY = "safety", "Safety"
    OTHER = "other", "Other"


class TreatmentLabResult(PatientLinkModel):
    """A lab result that serves a treatment plan (baseline, monitoring, safety …)."""

    treatment = models.ForeignKey(
        Treatment, on_delete=models.CASCADE, related_name="lab_result_links"
    )
    lab_result = models.ForeignKey(
        LabResult, on_delete=models.CASCADE, related_name="treatment_links"
    )
    purpose = models.CharField(max_length=20, choices=TreatmentLabResultPurpose.choices, blank=True)
    expected_frequency = models.CharField(max_length=100, blank=True)
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("treatment", "lab_result")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["treatment", "lab_result"], name="records_treatment_labresult_unique"
            )
        ]


class TreatmentEquipment(PatientLinkModel):
    """A device used in a treatment plan, with how often and at which settings."""

    treatment = models.ForeignKey(
        Treatment, on_delete=models.CASCADE, related_name="equipment_links"
    )
    equipment = models.ForeignKey(
        MedicalEquipment, on_delete=models.CASCADE, related_name="treatment_links"
    )
    usage_frequency = models.CharField(max_length=100, blank=True)
    specific_settings = models.CharField(max_length=300, blank=True)
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("treatment", "equipment")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["treatment", "equipment"], name="records_treatment_equipment_unique"
            )
        ]
