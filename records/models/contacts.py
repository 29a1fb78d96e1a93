"""Insurances and emergency contacts: who pays and whom to call.

Both keep "at most one primary" (per insurance type; per patient for contacts): saving a
primary row demotes the other primary of its scope in the same transaction, and a conditional
UniqueConstraint backs the rule in the database.
"""

from __future__ import annotations

import json
import math
import re

from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from patients.models import Patient, PatientOwnedModel, RecordKind

__all__ = [
    "EmergencyContact",
    "EmergencyContactRelationship",
    "Insurance",
    "InsuranceRelationshipToHolder",
    "InsuranceStatus",
    "InsuranceType",
    "validate_json_object",
    "validate_phone_number",
]


class InsuranceType(models.TextChoices):
    MEDICAL = "medical", "Medical"
    DENTAL = "dental", "Dental"
    VISION = "vision", "Vision"
    PRESCRIPTION = "prescription", "Prescription"


class InsuranceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    EXPIRED = "expired", "Expired"
    PENDING = "pending", "Pending"


class InsuranceRelationshipToHolder(models.TextChoices):
    SELF = "self", "Self"
    SPOUSE = "spouse", "Spouse"
    CHILD = "child", "Child"
    DEPENDENT = "dependent", "Dependent"
    OTHER = "other", "Other"


class EmergencyContactRelationship(models.TextChoices):
    SPOUSE = "spouse", "Spouse"
    PARENT = "parent", "Parent"
    MOTHER = "mother", "Mother"
    FATHER = "father", "Father"
    CHILD = "child", "Child"
    SON = "son", "Son"
    DAUGHTER = "daughter", "Daughter"
    SIBLING = "sibling", "Sibling"
    BROTHER = "brother", "Brother"
    SISTER = "sister", "Sister"
    GRANDPARENT = "grandparent", "Grandparent"
    GRANDMOTHER = "grandmother", "Grandmother"
    GRANDFATHER = "grandfather", "Grandfather"
    GRANDCHILD = "grandchild", "Grandchild"
    GRANDSON = "grandson", "Grandson"
    GRANDDAUGHTER = "granddaughter", "Granddaughter"
    AUNT = "aunt", "Aunt"
    UNCLE = "uncle", "Uncle"
    COUSIN = "cousin", "Cousin"
    FRIEND = "friend", "Friend"
    NEIGHBOR = "neighbor", "Neighbor"
    CAREGIVER = "caregiver", "Caregiver"
    GUARDIAN = "guardian", "Guardian"
    PARTNER = "partner", "Partner"
    OTHER = "other", "Other"


# --- shared field rules ---------------------------------------------------------------------

MAX_JSON_KEYS = 50
MAX_JSON_KEY_LENGTH = 100
MAX_JSON_DEPTH = 3
MAX_JSON_CHARS = 5000


def _depth(value, limit: int) -> int:
    """Nesting depth of lists/objects, counted only until it passes `limit`."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def validate_json_object(value) -> None:
    """A small JSON object of named values: free-form, but bounded so it cannot bloat a row."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValidationError("Give an object of named values ({...}).")
    if len(value) > MAX_JSON_KEYS:
        raise ValidationError(f"At most {MAX_JSON_KEYS} entries are allowed.")
    if any(not isinstance(key, str) or len(key) > MAX_JSON_KEY_LENGTH for key in value):
        raise ValidationError(f"Entry names are text of at most {MAX_JSON_KEY_LENGTH} characters.")
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ValidationError(f"Values may be nested at most {MAX_JSON_DEPTH} levels deep.")
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError("Values must be text, finite numbers, true/false or null.") from exc
    if size > MAX_JSON_CHARS:
        raise ValidationError(f"At most {MAX_JSON_CHARS} characters of JSON are allowed.")


_PHONE = re.compile(r"^[0-9+\-(). ]+$")
_DIGIT = re.compile(r"[0-9]")


def validate_phone_number(value: str) -> None:
    """Loose on purpose (numbers are written many ways): digits, spaces and + - ( ) . only."""
    if value and (not _PHONE.match(value) or not _DIGIT.search(value)):
        raise ValidationError("Use digits, spaces and + - ( ) . only.")


def _normalise_codes(instance, *names: str) -> None:
    # Enum values are stored lower-case; clients of the reference send "Spouse", "Medical".
    for name in names:
        value = getattr(instance, name)
        if isinstance(value, str):
            setattr(instance, name, value.strip().lower())


class SinglePrimaryMixin:
    """At most one primary row per (patient, *primary_scope).

    Saving a primary row demotes the other primary of its scope in the same transaction, so
    the API, the admin and commands all keep the rule; the conditional UniqueConstraint named
    `primary_constraint` is the database's backstop for anything that bypasses save().
    """

    primary_scope: tuple[str, ...] = ()
    primary_constraint: str = ""
    # Constraints that clean() already checks with a message naming the field.
    constraints_checked_in_clean: tuple[str, ...] = ()

    def primary_peers(self):
        """The other primary rows of this row's scope."""
        scope = {name: getattr(self, name) for name in self.primary_scope}
        return (
            type(self)
            ._default_manager.filter(patient_id=self.patient_id, is_primary=True, **scope)
            .exclude(pk=self.pk)
        )

    def save(self, *args, **kwargs):
        if not self.is_primary:
            return super().save(*args, **kwargs)
        with transaction.atomic():
            # Locking the patient row makes two promotions for one patient take turns: the
            # second then sees (and demotes) the first instead of tripping the constraint.
            # (SQLite takes the database write lock at BEGIN IMMEDIATE instead.)
            list(Patient.objects.select_for_update().filter(pk=self.patient_id).values("pk"))
            self.primary_peers().update(is_primary=False, updated_at=timezone.now())
            return super().save(*args, **kwargs)

    def get_constraints(self):
        # Model validation skips the one-primary constraint (a second primary is not an input
        # error: save() demotes the previous one) and those clean() reports field by field.
        skipped = {self.primary_constraint, *self.constraints_checked_in_clean}
        return [
            (model, [c for c in constraints if c.name not in skipped])
            for model, constraints in super().get_constraints()
        ]


# --- insurances -----------------------------------------------------------------------------


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


MEDICAL_COPAYS = ("copay_pcp", "copay_specialist", "copay_er", "copay_urgent_care")
DENTAL_COVERAGES = ("preventive_coverage", "basic_coverage", "major_coverage")


def coverage_errors(insurance_type: str, details: dict) -> list[str]:
    """The reference's per-type checks of coverage_details values that forms fill in."""
    errors = []
    present = {key: value for key, value in details.items() if value not in (None, "")}
    if insurance_type == InsuranceType.MEDICAL:
        for key in MEDICAL_COPAYS:
            if key in present and (_number(present[key]) is None or _number(present[key]) < 0):
                errors.append(f"{key} must be an amount of 0 or more.")
    elif insurance_type == InsuranceType.DENTAL:
        for key in DENTAL_COVERAGES:
            if key in present:
                number = _number(present[key])
                if number is None or not 0 <= number <= 100:
                    errors.append(f"{key} must be a percentage from 0 to 100.")
    elif (
        insurance_type == InsuranceType.PRESCRIPTION
        and "bin_number" in present
        and len(str(present["bin_number"])) > 10
    ):
        errors.append("bin_number must be at most 10 characters.")
    return errors


class Insurance(SinglePrimaryMixin, PatientOwnedModel):
    """An insurance plan of the patient. At most one primary plan per insurance type.

    The contract calls the insurer provider_name, the reference company_name (the API accepts
    and returns both).
    """

    insurance_type = models.CharField(max_length=20, choices=InsuranceType.choices)
    company_name = models.CharField(max_length=255)
    employer_group = models.CharField(max_length=255, blank=True)
    member_name = models.CharField(max_length=255, blank=True)
    member_id = models.CharField(max_length=100, blank=True)
    group_number = models.CharField(max_length=100, blank=True)
    policy_number = models.CharField(max_length=100, blank=True)
    plan_name = models.CharField(max_length=255, blank=True)
    policy_holder_name = models.CharField(max_length=255, blank=True)
    relationship_to_holder = models.CharField(
        max_length=20, choices=InsuranceRelationshipToHolder.choices, blank=True
    )
    effective_date = models.DateField()
    expiration_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=InsuranceStatus.choices, default=InsuranceStatus.ACTIVE
    )
    is_primary = models.BooleanField(default=False)
    coverage_details = models.JSONField(null=True, blank=True, validators=[validate_json_object])
    contact_info = models.JSONField(null=True, blank=True, validators=[validate_json_object])
    notes = models.TextField(max_length=5000, blank=True)

    primary_scope = ("insurance_type",)
    primary_constraint = "records_insurance_one_primary_per_type"
    constraints_checked_in_clean = ("records_insurance_period_order",)
    dashboard_key = "total_insurances"
    kind = RecordKind(
        name="insurance",
        plural="insurances",
        title="company_name",
        text=("plan_name", "member_name", "member_id", "group_number", "policy_number", "notes"),
        date="effective_date",
        scope="insurance",
    )

    class Meta(PatientOwnedModel.Meta):
        ordering = ["insurance_type", "-is_primary", "-effective_date", "-id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_insurance_pc"),
            models.Index(fields=["patient", "status"], name="records_insurance_status"),
            models.Index(fields=["patient", "expiration_date"], name="records_insurance_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "insurance_type"],
                condition=Q(is_primary=True),
                name="records_insurance_one_primary_per_type",
                violation_error_message="The patient already has a primary insurance of this type.",
            ),
            models.CheckConstraint(
                condition=Q(expiration_date__isnull=True)
                | Q(expiration_date__gte=F("effective_date")),
                name="records_insurance_period_order",
                violation_error_message="The expiration date is before the effective date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company_name} ({self.insurance_type})"

    def clean_fields(self, exclude=None):
        _normalise_codes(self, "insurance_type", "status", "relationship_to_holder")
        super().clean_fields(exclude)

    def clean(self):
        super().clean()
        self.company_name = (self.company_name or "").strip()
        errors = {}
        if not self.company_name:
            errors["company_name"] = "The insurance company is required."
        if (
            self.expiration_date
            and self.effective_date
            and self.expiration_date < self.effective_date
        ):
            errors["expiration_date"] = "The expiration date is before the effective date."
        if isinstance(self.coverage_details, dict):
            problems = coverage_errors(self.insurance_type, self.coverage_details)
            if problems:
                errors["coverage_details"] = problems
        if errors:
            raise ValidationError(errors)


# --- emergency contacts ---------------------------------------------------------------------


class EmergencyContact(SinglePrimaryMixin, PatientOwnedModel):
    """Someone to call in an emergency. At most one primary contact per patient."""

    name = models.CharField(max_length=100, validators=[MinLengthValidator(2)])
    relationship = models.CharField(max_length=50, choices=EmergencyContactRelationship.choices)
    phone_number = models.CharField(max_length=20, validators=[validate_phone_number])
    secondary_phone = models.CharField(
        max_length=20, blank=True, validators=[validate_phone_number]
    )
    email = models.EmailField(max_length=100, blank=True)
    address = models.CharField(max_length=500, blank=True)
    is_primary = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    notes = models.TextField(max_length=1000, blank=True)

    primary_constraint = "records_emergency_contact_one_primary"
    dashboard_key = "total_emergency_contacts"
    kind = RecordKind(
        name="emergency_contact",
        plural="emergency_contacts",
        title="name",
        text=("relationship", "phone_number", "email", "notes"),
    )

    class Meta(PatientOwnedModel.Meta):
        # The primary contact first, then by name (as the reference lists them).
        ordering = ["-is_primary", "name", "id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_emergencycontact_pc"),
            models.Index(fields=["patient", "name"], name="records_emcontact_name"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(is_primary=True),
                name="records_emergency_contact_one_primary",
                violation_error_message="The patient already has a primary emergency contact.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.relationship})"

    def clean_fields(self, exclude=None):
        _normalise_codes(self, "relationship")
        self.name = (self.name or "").strip()
        self.phone_number = (self.phone_number or "").strip()
        self.secondary_phone = (self.secondary_phone or "").strip()
        self.email = (self.email or "").strip()
        super().clean_fields(exclude)
