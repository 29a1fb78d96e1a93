"""Patients, the share grant, and the base every patient-owned record type is built on."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patients.choices import PatientBloodType, PatientGender, ShareLevel

MAX_TAGS = 15
MAX_TAG_LENGTH = 50


def validate_past_date(value: date) -> None:
    if value and value > timezone.localdate():
        raise ValidationError("The date cannot be in the future.")


class Patient(models.Model):
    """A person whose records are kept. The owner has every right; others get shares."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_patients"
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    birth_date = models.DateField(validators=[validate_past_date])
    gender = models.CharField(max_length=10, choices=PatientGender.choices, blank=True)
    blood_type = models.CharField(max_length=3, choices=PatientBloodType.choices, blank=True)
    height = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(108)],
        help_text="Inches",
    )
    weight = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5), MaxValueValidator(992)],
        help_text="Pounds",
    )
    address = models.CharField(max_length=500, blank=True)
    # The structured form ({street, city, state, zip_code, country}) when a client sends one.
    address_details = models.JSONField(null=True, blank=True)
    phone_number = models.CharField(max_length=30, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    relationship_to_self = models.CharField(max_length=30, blank=True)
    is_self_record = models.BooleanField(default=False)
    # The primary care physician, from the shared practitioner directory. Named by its label,
    # not imported, so patients/ still never imports records/; deleting the practitioner
    # leaves the patient without one.
    physician = models.ForeignKey(
        "records.Practitioner",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(is_self_record=True),
                name="patients_one_self_record_per_owner",
                violation_error_message="You already have a self record.",
            )
        ]
        indexes = [models.Index(fields=["last_name", "first_name"], name="patients_name_idx")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def age(self) -> int | None:
        if not self.birth_date:
            return None
        today = timezone.localdate()
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    def clean(self):
        if self.birth_date and self.birth_date.year < timezone.localdate().year - 150:
            raise ValidationError({"birth_date": "The birth date is more than 150 years ago."})


class PatientShareQuerySet(models.QuerySet):
    def in_force(self, at=None):
        """Shares that grant access now: active and not past their expiry."""
        moment = at or timezone.now()
        return self.filter(is_active=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=moment)
        )


class PatientShare(models.Model):
    """The grant: `grantee` may act on `patient` at `level` until it expires or is revoked.

    One row per (patient, grantee); re-sharing after a revoke reactivates that row.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="shares")
    grantee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient_shares"
    )
    level = models.CharField(max_length=10, choices=ShareLevel.choices, default=ShareLevel.VIEW)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Kept and shown as the client gave it; it grants nothing beyond `level` (as in the
    # reference, where it is stored and never enforced).
    custom_permissions = models.JSONField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="granted_patient_shares",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientShareQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "grantee"], name="patients_share_unique")
        ]
        indexes = [
            models.Index(fields=["grantee", "is_active", "patient"], name="patients_share_grantee")
        ]

    def __str__(self) -> str:
        return f"{self.patient} → {self.grantee} ({self.level})"

    def clean(self):
        if self.patient_id and self.grantee_id and self.patient.owner_id == self.grantee_id:
            raise ValidationError("A patient cannot be shared with its owner.")


def patient_photo_path(instance: PatientPhoto, filename: str) -> str:
    """A name we make up: the client's file name is kept as metadata, never used as a path."""
    return f"photos/patients/patient_{instance.patient_id}_{secrets.token_hex(8)}.jpg"


class PatientPhoto(models.Model):
    """The patient's profile photo: one per patient, always a re-encoded JPEG.

    Served only through the access-checked photo endpoint, never as a public media URL.
    The file goes with the row (patients/receivers.py deletes it once the deletion commits).
    """

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="photo")
    file = models.FileField(upload_to=patient_photo_path, max_length=500)
    file_size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    mime_type = models.CharField(max_length=100, default="image/jpeg")
    original_name = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Set on every upload (a replacement keeps the row), hence not auto_now_add.
    uploaded_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Photo of {self.patient}"

    @property
    def filename(self) -> str:
        return self.file.name.rsplit("/", 1)[-1] if self.file else ""


# --- the record base ------------------------------------------------------------------------


class PatientOwnedQuerySet(models.QuerySet):
    def visible_to(self, user):
        from patients.access import Level, accessible_patient_ids

        return self.filter(patient_id__in=accessible_patient_ids(user, Level.VIEW))

    def editable_by(self, user):
        from patients.access import Level, accessible_patient_ids

        return self.filter(patient_id__in=accessible_patient_ids(user, Level.EDIT))

    def for_patient(self, patient_id: int):
        return self.filter(patient_id=patient_id)


@dataclass(frozen=True)
class RecordKind:
    """How one record type is named, found and exported across types (search, tags, export,
    reports). Declared on each model as `kind`; code that spans types reads it from there
    instead of naming types."""

    name: str  # singular, as clients spell it in results: "medication", "lab_result"
    plural: str  # the search group and report category: "medications", "lab_results"
    title: str  # the field that names a record ("medication_name")
    text: tuple[str, ...] = ()  # other fields searched (notes, codes, descriptions)
    date: str | None = None  # the record's own date (a DateField or DateTimeField)
    scope: str = ""  # the export scope; the plural when empty
    # Names the web app's search page reads for fields this type's items carry under another
    # name: (name in the search item, field of the item), e.g. ("start_date", "…_start").
    search_aliases: tuple[tuple[str, str], ...] = ()
    # Stored units of measure fields ((field, unit), …): exports label them and convert them
    # to metric on request (records/export/units.py).
    units: tuple[tuple[str, str], ...] = ()

    @property
    def export_scope(self) -> str:
        return self.scope or self.plural


class PatientOwnedModel(models.Model):
    """Base of every clinical record type: belongs to one patient, deleted with it.

    Subclasses are found through `record_models()`.
    """

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="%(app_label)s_%(class)s_set"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientOwnedQuerySet.as_manager()

    # The name of this type's count in dashboard statistics ("total_medications" …), and
    # extra filtered counts: {"active_medications": Q(status="active")}.
    dashboard_key: str | None = None
    dashboard_filters: dict = {}
    # Naming, search and export across types; None keeps a type out of them.
    kind: RecordKind | None = None

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="%(app_label)s_%(class)s_pc")
        ]


def normalise_tags(tags) -> list[str]:
    """Lower-case, trimmed, spaces to dashes, split at commas, de-duplicated in order; limits
    enforced."""
    if tags in (None, ""):
        return []
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ValidationError({"tags": "Tags must be a list of strings."})
    cleaned: list[str] = []
    # A comma separates tags (it is also tag_index's separator, so it cannot live inside one).
    for part in (piece for tag in tags for piece in tag.split(",")):
        value = re.sub(r"\s+", "-", part.strip().lower())
        if not value:
            continue
        if len(value) > MAX_TAG_LENGTH:
            raise ValidationError({"tags": f"A tag may be at most {MAX_TAG_LENGTH} characters."})
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"A record may have at most {MAX_TAGS} tags."})
    return cleaned


class TaggedMixin(models.Model):
    """Tags as a JSON list, mirrored into `tag_index` (",a,b,") so that filtering by tag is a
    plain LIKE on SQLite and PostgreSQL alike."""

    tags = models.JSONField(default=list, blank=True)
    tag_index = models.TextField(default="", blank=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.tags = normalise_tags(self.tags)
        self.tag_index = f",{','.join(self.tags)}," if self.tags else ""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "tags" in update_fields:
            kwargs["update_fields"] = {*update_fields, "tag_index"}
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        self.tags = normalise_tags(self.tags)


def record_models() -> list[type[PatientOwnedModel]]:
    """Every concrete patient-owned record type, found through the app registry."""
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if issubclass(model, PatientOwnedModel) and not model._meta.abstract
    ]
