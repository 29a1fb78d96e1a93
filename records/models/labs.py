"""Lab results, their test components, and their links to encounters, conditions,
medications and procedures."""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinLengthValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from patients.core.links import PatientLinkModel
from patients.models import PatientOwnedModel, PatientOwnedQuerySet, RecordKind, TaggedMixin
from records.models.conditions import Condition
from records.models.encounters import Encounter
from records.models.medications import Medication
from records.models.procedures import Procedure
from records.reference import directory_link

__all__ = [
    "ABNORMAL_STATUSES",
    "EncounterLabResult",
    "EncounterLabResultPurpose",
    "LabResult",
    "LabResultCategory",
    "LabResultCondition",
    "LabResultInterpretation",
    "LabResultMedication",
    "LabResultProcedure",
    "LabResultStatus",
    "LabResultTestType",
    "LabTestComponent",
    "LabTestComponentCategory",
    "LabTestComponentQualitativeValue",
    "LabTestComponentResultType",
    "LabTestComponentStatus",
    "MAX_MEASURE",
    "normalise_code",
    "validate_measure",
]

# Lab values beyond this are typing errors, and keep every stored float exact enough to show.
MAX_MEASURE = 1e15


def validate_measure(value: float | None) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise ValidationError("Give a finite number.")
    if abs(value) > MAX_MEASURE:
        raise ValidationError("The number is out of range (at most 1e15 either way).")


# --- lab results ----------------------------------------------------------------------------


class LabResultStatus(models.TextChoices):
    ORDERED = "ordered", "Ordered"
    # The contract's spelling; "in_progress", "In Progress" … are read as this (the API's
    # choice fields ignore case and treat "-", "_" and spaces alike).
    IN_PROGRESS = "in-progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class LabResultInterpretation(models.TextChoices):
    NORMAL = "normal", "Normal"
    ABNORMAL = "abnormal", "Abnormal"
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    LOW = "low", "Low"
    BORDERLINE = "borderline", "Borderline"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


class LabResultCategory(models.TextChoices):
    BLOOD_WORK = "blood work", "Blood work"
    IMAGING = "imaging", "Imaging"
    PATHOLOGY = "pathology", "Pathology"
    MICROBIOLOGY = "microbiology", "Microbiology"
    CHEMISTRY = "chemistry", "Chemistry"
    HEMATOLOGY = "hematology", "Hematology"
    HEPATOLOGY = "hepatology", "Hepatology"
    IMMUNOLOGY = "immunology", "Immunology"
    GENETICS = "genetics", "Genetics"
    CARDIOLOGY = "cardiology", "Cardiology"
    PULMONOLOGY = "pulmonology", "Pulmonology"
    HEARING = "hearing", "Hearing"
    STOMATOLOGY = "stomatology", "Stomatology"
    OTHER = "other", "Other"


class LabResultTestType(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    STAT = "stat", "Stat"
    EMERGENCY = "emergency", "Emergency"
    FOLLOW_UP = "follow-up", "Follow-up"
    SCREENING = "screening", "Screening"


class LabResult(TaggedMixin, PatientOwnedModel):
    """An ordered or completed lab test; its measured values are LabTestComponents."""

    test_name = models.CharField(max_length=200, validators=[MinLengthValidator(2)])
    test_code = models.CharField(max_length=50, blank=True, help_text="LOINC, CPT …")
    test_category = models.CharField(max_length=20, choices=LabResultCategory.choices, blank=True)
    test_type = models.CharField(max_length=20, choices=LabResultTestType.choices, blank=True)
    facility = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=20, choices=LabResultStatus.choices, default=LabResultStatus.ORDERED
    )
    labs_result = models.CharField(
        max_length=20, choices=LabResultInterpretation.choices, blank=True
    )
    ordered_date = models.DateField(null=True, blank=True)
    completed_date = models.DateField(null=True, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    practitioner = directory_link("Practitioner", "Who ordered the test.")
    encounters = models.ManyToManyField(
        Encounter, through="EncounterLabResult", related_name="lab_results", blank=True
    )
    conditions = models.ManyToManyField(
        Condition, through="LabResultCondition", related_name="lab_results", blank=True
    )

    dashboard_key = "total_lab_results"
    kind = RecordKind(
        name="lab_result",
        plural="lab_results",
        title="test_name",
        text=("test_code", "test_category", "facility", "notes"),
        date="completed_date",
        search_aliases=(("result", "labs_result"), ("test_date", "completed_date")),
    )

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_labresult_pc"),
            models.Index(fields=["patient", "completed_date"], name="records_labresult_done"),
            models.Index(fields=["test_code"], name="records_labresult_code"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(completed_date__isnull=True)
                | Q(ordered_date__isnull=True)
                | Q(completed_date__gte=F("ordered_date")),
                name="records_labresult_date_order",
                violation_error_message="The completed date is before the ordered date.",
            )
        ]

    def __str__(self) -> str:
        return self.test_name

    def clean(self):
        super().clean()
        self.test_code = normalise_code(self.test_code)
        if self.ordered_date and self.completed_date and self.completed_date < self.ordered_date:
            raise ValidationError(
                {"completed_date": "The completed date is before the ordered date."}
            )

    def save(self, *args, **kwargs):
        self.test_code = normalise_code(self.test_code)
        super().save(*args, **kwargs)


def normalise_code(code: str | None) -> str:
    """Test codes are compared case-insensitively; they are kept trimmed and upper-case."""
    return (code or "").strip().upper()


# --- components -----------------------------------------------------------------------------


class LabTestComponentResultType(models.TextChoices):
    QUANTITATIVE = "quantitative", "Quantitative"
    QUALITATIVE = "qualitative", "Qualitative"
    # Not in the contract's list; the reference's app offers it (a free-text finding).
    TEXTUAL = "textual", "Textual"


class LabTestComponentQualitativeValue(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    DETECTED = "detected", "Detected"
    UNDETECTED = "undetected", "Undetected"


# The contract gives a component's status the same values as a lab result's interpretation
# (one choice set, so one enum in the schema).
LabTestComponentStatus = LabResultInterpretation


class LabTestComponentCategory(models.TextChoices):
    CHEMISTRY = "chemistry", "Chemistry"
    HEMATOLOGY = "hematology", "Hematology"
    HEPATOLOGY = "hepatology", "Hepatology"
    IMMUNOLOGY = "immunology", "Immunology"
    MICROBIOLOGY = "microbiology", "Microbiology"
    ENDOCRINOLOGY = "endocrinology", "Endocrinology"
    CARDIOLOGY = "cardiology", "Cardiology"
    TOXICOLOGY = "toxicology", "Toxicology"
    GENETICS = "genetics", "Genetics"
    MOLECULAR = "molecular", "Molecular"
    PATHOLOGY = "pathology", "Pathology"
    LIPIDS = "lipids", "Lipids"
    HEARING = "hearing", "Hearing"
    STOMATOLOGY = "stomatology", "Stomatology"
    IMAGING = "imaging", "Imaging"
    OTHER = "other", "Other"


# Statuses that count as "abnormal" in statistics.
ABNORMAL_STATUSES = ("abnormal", "critical", "high", "low")
_QUALITATIVE_STATUS = {
    LabTestComponentQualitativeValue.POSITIVE: LabTestComponentStatus.ABNORMAL,
    LabTestComponentQualitativeValue.DETECTED: LabTestComponentStatus.ABNORMAL,
    LabTestComponentQualitativeValue.NEGATIVE: LabTestComponentStatus.NORMAL,
    LabTestComponentQualitativeValue.UNDETECTED: LabTestComponentStatus.NORMAL,
}


class LabTestComponentQuerySet(PatientOwnedQuerySet):
    def with_result(self):
        """Components that carry a result: not quantitative rows still waiting for a value."""
        return self.exclude(result_type=LabTestComponentResultType.QUANTITATIVE, value__isnull=True)


class LabTestComponent(PatientOwnedModel):
    """One measured value of a lab result (WBC, glucose …), of the lab result's patient.

    A quantitative component may wait for its value (a panel saved before its results):
    it then has no status and is left out of statistics and trends.

    When no status is given it is derived from the value: below the reference range → low,
    above → high, else normal; qualitative positive/detected → abnormal, negative/undetected
    → normal.
    """

    lab_result = models.ForeignKey(LabResult, on_delete=models.CASCADE, related_name="components")
    test_name = models.CharField(max_length=200)
    abbreviation = models.CharField(max_length=20, blank=True)
    test_code = models.CharField(max_length=50, blank=True, help_text="LOINC code")
    # The short name of the catalogue entry the code or name matches (set on save), blank
    # when none does; see records/models/lab_catalogue.py.
    canonical_test_name = models.CharField(max_length=200, blank=True, editable=False)
    result_type = models.CharField(
        max_length=20,
        choices=LabTestComponentResultType.choices,
        default=LabTestComponentResultType.QUANTITATIVE,
    )
    value = models.FloatField(null=True, blank=True, validators=[validate_measure])
    unit = models.CharField(max_length=50, blank=True)
    qualitative_value = models.CharField(
        max_length=20, choices=LabTestComponentQualitativeValue.choices, blank=True
    )
    textual_value = models.TextField(max_length=5000, blank=True)
    ref_range_min = models.FloatField(null=True, blank=True, validators=[validate_measure])
    ref_range_max = models.FloatField(null=True, blank=True, validators=[validate_measure])
    ref_range_text = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=LabTestComponentStatus.choices, blank=True)
    category = models.CharField(max_length=20, choices=LabTestComponentCategory.choices, blank=True)
    display_order = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100_000)]
    )
    notes = models.TextField(max_length=500, blank=True)

    objects = LabTestComponentQuerySet.as_manager()

    dashboard_key = "total_lab_test_components"
    kind = RecordKind(
        name="lab_test_component",
        plural="lab_test_components",
        title="test_name",
        text=("abbreviation", "test_code", "canonical_test_name", "notes"),
        scope="lab_results",
    )

    class Meta(PatientOwnedModel.Meta):
        ordering = [F("display_order").asc(nulls_last=True), "id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_labcomponent_pc"),
            models.Index(fields=["lab_result", "status"], name="records_labcomponent_status"),
            models.Index(fields=["lab_result", "category"], name="records_labcomponent_cat"),
            models.Index(fields=["patient", "test_name"], name="records_labcomponent_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ref_range_min__isnull=True)
                | Q(ref_range_max__isnull=True)
                | Q(ref_range_max__gt=F("ref_range_min")),
                name="records_labcomponent_range_order",
                violation_error_message="The reference range maximum is not above its minimum.",
            )
        ]

    def __str__(self) -> str:
        shown = (
            self.qualitative_value
            or self.textual_value[:40]
            or (f"{self.value:g} {self.unit}".strip() if self.value is not None else "")
        )
        return f"{self.test_name} {shown}".strip()

    def derived_status(self) -> str:
        """The status the values imply ("" when they imply nothing)."""
        if self.result_type == LabTestComponentResultType.QUALITATIVE:
            return _QUALITATIVE_STATUS.get(self.qualitative_value, "")
        if self.result_type == LabTestComponentResultType.TEXTUAL:
            return ""
        low, high, value = self.ref_range_min, self.ref_range_max, self.value
        if value is None or (low is None and high is None):
            return ""
        if low is not None and value < low:
            return LabTestComponentStatus.LOW
        if high is not None and value > high:
            return LabTestComponentStatus.HIGH
        return LabTestComponentStatus.NORMAL

    def clean(self):
        super().clean()
        self.abbreviation = (self.abbreviation or "").strip().upper()
        self.test_code = normalise_code(self.test_code)
        errors: dict[str, str] = {}
        if self.result_type == LabTestComponentResultType.TEXTUAL:
            if not self.textual_value.strip():
                errors["textual_value"] = "A textual result needs its text."
            if self.value is not None:
                errors["value"] = "A textual result has no numeric value."
            if self.qualitative_value:
                errors["qualitative_value"] = "Only qualitative results have one."
        elif self.result_type == LabTestComponentResultType.QUALITATIVE:
            if not self.qualitative_value:
                errors["qualitative_value"] = "A qualitative result needs a qualitative value."
            if self.value is not None:
                errors["value"] = "A qualitative result has no numeric value."
            if self.ref_range_min is not None or self.ref_range_max is not None:
                errors["ref_range_min"] = "A qualitative result has no numeric reference range."
        else:
            # No value yet is allowed: a panel is saved before its results arrive (the
            # reference's app sends value null for the rows the user left empty). Such a
            # component has no status and stays out of statistics and trends.
            if self.value is not None and not self.unit:
                errors["unit"] = "A quantitative result needs a unit."
            if self.qualitative_value:
                errors["qualitative_value"] = "Only qualitative results have one."
        if self.result_type != LabTestComponentResultType.TEXTUAL and self.textual_value:
            errors["textual_value"] = "Only textual results have one."
        low, high = self.ref_range_min, self.ref_range_max
        if low is not None and high is not None and high <= low:
            errors["ref_range_max"] = "The reference range maximum is not above its minimum."
        if self.lab_result_id and self.patient_id and self.lab_result.patient_id != self.patient_id:
            errors["lab_result"] = "The lab result belongs to another patient."
        if errors:
            raise ValidationError(errors)
        if not self.status:
            self.status = self.derived_status()

    def save(self, *args, **kwargs):
        if not self.status:
            self.status = self.derived_status()
        # Imported here: the catalogue module imports this one (for the category choices).
        from records.models.lab_catalogue import match_test

        # One in-memory lookup; the catalogue index is cached, so bulk saves query it once.
        found = match_test(self.test_name, self.test_code)
        self.canonical_test_name = found.entry.canonical_name if found else ""
        super().save(*args, **kwargs)


# --- links ----------------------------------------------------------------------------------


class EncounterLabResultPurpose(models.TextChoices):
    ORDERED_DURING = "ordered_during", "Ordered during the visit"
    RESULTS_REVIEWED = "results_reviewed", "Results reviewed at the visit"
    FOLLOW_UP_FOR = "follow_up_for", "Follow-up for the visit"
    REFERENCE = "reference", "Reference"
    OTHER = "other", "Other"


class EncounterLabResult(PatientLinkModel):
    """A lab result that belongs with a visit (ordered there, reviewed there …)."""

    encounter = models.ForeignKey(
        Encounter, on_delete=models.CASCADE, related_name="lab_result_links"
    )
    lab_result = models.ForeignKey(
        LabResult, on_delete=models.CASCADE, related_name="encounter_links"
    )
    purpose = models.CharField(max_length=20, choices=EncounterLabResultPurpose.choices, blank=True)
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("encounter", "lab_result")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "lab_result"], name="records_encounter_labresult_unique"
            )
        ]


class LabResultCondition(PatientLinkModel):
    """A condition a lab result is relevant to (diagnosing, monitoring …)."""

    lab_result = models.ForeignKey(
        LabResult, on_delete=models.CASCADE, related_name="condition_links"
    )
    condition = models.ForeignKey(
        Condition, on_delete=models.CASCADE, related_name="lab_result_links"
    )
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("lab_result", "condition")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["lab_result", "condition"], name="records_labresult_condition_unique"
            )
        ]


class LabResultMedication(PatientLinkModel):
    """A medication a lab result bears on (monitoring its levels, its side effects …)."""

    lab_result = models.ForeignKey(
        LabResult, on_delete=models.CASCADE, related_name="medication_links"
    )
    medication = models.ForeignKey(
        Medication, on_delete=models.CASCADE, related_name="lab_result_links"
    )
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("lab_result", "medication")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["lab_result", "medication"], name="records_labresult_medication_unique"
            )
        ]


class LabResultProcedure(PatientLinkModel):
    """A procedure a lab result belongs with (a biopsy's pathology, pre-operative labs …)."""

    lab_result = models.ForeignKey(
        LabResult, on_delete=models.CASCADE, related_name="procedure_links"
    )
    procedure = models.ForeignKey(
        Procedure, on_delete=models.CASCADE, related_name="lab_result_links"
    )
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("lab_result", "procedure")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["lab_result", "procedure"], name="records_labresult_procedure_unique"
            )
        ]
