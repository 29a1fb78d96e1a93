"""Family history: the patient's relatives and the conditions each of them had."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinLengthValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from patients.choices import PatientGender
from patients.models import PatientOwnedModel, RecordKind, validate_past_date

__all__ = [
    "FamilyCondition",
    "FamilyConditionSeverity",
    "FamilyConditionStatus",
    "FamilyConditionType",
    "FamilyMember",
    "FamilyRelationship",
]

EARLIEST_YEAR = 1900


class FamilyRelationship(models.TextChoices):
    FATHER = "father", "Father"
    MOTHER = "mother", "Mother"
    BROTHER = "brother", "Brother"
    SISTER = "sister", "Sister"
    PATERNAL_GRANDFATHER = "paternal_grandfather", "Paternal grandfather"
    PATERNAL_GRANDMOTHER = "paternal_grandmother", "Paternal grandmother"
    MATERNAL_GRANDFATHER = "maternal_grandfather", "Maternal grandfather"
    MATERNAL_GRANDMOTHER = "maternal_grandmother", "Maternal grandmother"
    UNCLE = "uncle", "Uncle"
    AUNT = "aunt", "Aunt"
    COUSIN = "cousin", "Cousin"
    OTHER = "other", "Other"


class FamilyConditionType(models.TextChoices):
    CARDIOVASCULAR = "cardiovascular", "Cardiovascular"
    DIABETES = "diabetes", "Diabetes"
    CANCER = "cancer", "Cancer"
    MENTAL_HEALTH = "mental_health", "Mental health"
    NEUROLOGICAL = "neurological", "Neurological"
    AUTOIMMUNE = "autoimmune", "Autoimmune"
    GENETIC = "genetic", "Genetic"
    RESPIRATORY = "respiratory", "Respiratory"
    ENDOCRINE = "endocrine", "Endocrine"
    OTHER = "other", "Other"


class FamilyConditionSeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    LIFE_THREATENING = "life-threatening", "Life-threatening"


class FamilyConditionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    CHRONIC = "chronic", "Chronic"


class FamilyMember(PatientOwnedModel):
    """A relative of the patient, for the family medical history.

    Birth and death may be known by date or only by year; a date fixes its year. A death
    date or year requires the member to be deceased.
    """

    name = models.CharField(max_length=100, validators=[MinLengthValidator(1)])
    relationship = models.CharField(max_length=30, choices=FamilyRelationship.choices)
    gender = models.CharField(max_length=10, choices=PatientGender.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    birth_year = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(EARLIEST_YEAR)]
    )
    is_deceased = models.BooleanField(default=False)
    death_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    death_year = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(EARLIEST_YEAR)]
    )
    medical_history = models.TextField(max_length=2000, blank=True)
    notes = models.TextField(max_length=1000, blank=True)

    dashboard_key = "total_family_members"
    kind = RecordKind(
        name="family_member",
        plural="family_members",
        title="name",
        text=("relationship", "medical_history", "notes"),
        scope="family_history",
    )

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_familymember_pc"),
            models.Index(fields=["patient", "name"], name="records_familymember_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relationship_display()})"

    @property
    def death_age(self) -> int | None:
        """Age at death in whole years, when birth and death are both known."""
        if self.birth_date and self.death_date:
            born, died = self.birth_date, self.death_date
            return died.year - born.year - ((died.month, died.day) < (born.month, born.day))
        if self.birth_year and self.death_year:
            return self.death_year - self.birth_year
        return None

    def _years_from_dates(self) -> None:
        if self.birth_date:
            self.birth_year = self.birth_date.year
        if self.death_date:
            self.death_year = self.death_date.year

    def clean(self):
        super().clean()
        self._years_from_dates()
        errors = {}
        this_year = timezone.localdate().year
        for name in ("birth_year", "death_year"):
            year = getattr(self, name)
            if year and year > this_year:
                errors[name] = "The year cannot be in the future."
        if not errors:
            if self.birth_date and self.death_date and self.death_date < self.birth_date:
                errors["death_date"] = "The death date is before the birth date."
            elif self.birth_year and self.death_year and self.death_year < self.birth_year:
                errors["death_year"] = "The death year is before the birth year."
            elif (self.death_year or self.death_date) and not self.is_deceased:
                errors["is_deceased"] = "A family member with a death date or year is deceased."
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self._years_from_dates()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "birth_year", "death_year"}
        super().save(*args, **kwargs)


class FamilyCondition(PatientOwnedModel):
    """A condition a family member had; belongs to the member's patient."""

    family_member = models.ForeignKey(
        FamilyMember, on_delete=models.CASCADE, related_name="family_conditions"
    )
    condition_name = models.CharField(max_length=200, validators=[MinLengthValidator(2)])
    condition_type = models.CharField(
        max_length=20, choices=FamilyConditionType.choices, blank=True
    )
    diagnosis_age = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(120)]
    )
    severity = models.CharField(max_length=20, choices=FamilyConditionSeverity.choices, blank=True)
    status = models.CharField(max_length=20, choices=FamilyConditionStatus.choices, blank=True)
    icd10_code = models.CharField(max_length=10, blank=True)
    notes = models.TextField(max_length=1000, blank=True)

    dashboard_key = "total_family_conditions"
    kind = RecordKind(
        name="family_condition",
        plural="family_conditions",
        title="condition_name",
        text=("icd10_code", "notes"),
        scope="family_history",
    )

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_familycondition_pc"),
        ]

    def __str__(self) -> str:
        return self.condition_name

    def clean(self):
        super().clean()
        self.icd10_code = self.icd10_code.strip().upper()
        if (
            self.family_member_id
            and self.patient_id
            and self.family_member.patient_id != self.patient_id
        ):
            raise ValidationError(
                {"family_member": "The family member belongs to another patient."}
            )
