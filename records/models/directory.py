"""The shared directory: medical specialties, practices, practitioners and pharmacies.

These are reference data, not patient records (records/reference.py): every signed-in user
reads them; the user who added an entry, or an admin, changes it. Medical specialties are a
lookup table seeded with a standard list (STANDARD_SPECIALTIES, loaded by a data migration
through `seed_standard_specialties`); users may add to it, only admins change it.

Records point at practitioners and pharmacies with SET_NULL foreign keys (added with the
record types that carry them), so deleting a directory entry never deletes a record.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    URLValidator,
)
from django.db import models
from django.db.models.functions import Lower

from records.models.contacts import validate_phone_number
from records.reference import DirectoryModel

__all__ = [
    "STANDARD_SPECIALTIES",
    "MedicalSpecialty",
    "MedicalSpecialtyCategory",
    "Pharmacy",
    "Practice",
    "Practitioner",
    "normalise_url",
    "seed_standard_specialties",
    "validate_practice_locations",
    "validate_postal_code",
]


# --- shared field rules ---------------------------------------------------------------------

_URL = URLValidator(schemes=["http", "https"], message="Enter a valid http(s) web address.")


def normalise_url(value: str) -> str:
    """A web address as people type it ("www.cvs.com") gets https:// in front."""
    value = (value or "").strip()
    if value and "://" not in value:
        value = f"https://{value}"
    return value


def validate_web_address(value: str) -> None:
    if value:
        _URL(value)


# Letters, digits, spaces and hyphens: US ZIP (27514, 27514-1234), Canadian (K1A 0B1),
# UK (SW1A 1AA), Dutch (1012 AB), Irish (D02 X285) … are all accepted.
_POSTAL_CODE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 -]{0,18}[A-Za-z0-9])?$")


def validate_postal_code(value: str) -> None:
    if value and (len(value) < 2 or not _POSTAL_CODE.match(value)):
        raise ValidationError(
            "Enter a postal code of letters, digits, spaces and hyphens (2–20 characters)."
        )


class StrippedTextMixin:
    """Text is stored without surrounding spaces, so "  CVS " and "CVS" are the same name."""

    def clean_fields(self, exclude=None):
        for field in self._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                value = getattr(self, field.attname)
                if isinstance(value, str):
                    setattr(self, field.attname, value.strip())
        for name in getattr(self, "url_fields", ()):
            setattr(self, name, normalise_url(getattr(self, name)))
        super().clean_fields(exclude)


def _phone_field(**kwargs):
    return models.CharField(max_length=30, blank=True, validators=[validate_phone_number], **kwargs)


def _url_field():
    return models.CharField(max_length=500, blank=True, validators=[validate_web_address])


# --- medical specialties --------------------------------------------------------------------


class MedicalSpecialtyCategory(models.TextChoices):
    MEDICAL = "medical", "Medical"
    SURGICAL = "surgical", "Surgical"
    DENTAL = "dental", "Dental"
    ALLIED_HEALTH = "allied_health", "Allied health"


class MedicalSpecialty(StrippedTextMixin, DirectoryModel):
    """A specialty practitioners are filed under. Names are unique regardless of case.

    `created_by` is empty for the seeded standard list. Deactivated specialties drop out of
    the dropdown list but stay on the practitioners that have them; a specialty still in use
    cannot be deleted.
    """

    name = models.CharField(max_length=100, validators=[MinLengthValidator(2)])
    category = models.CharField(max_length=20, choices=MedicalSpecialtyCategory.choices, blank=True)
    description = models.TextField(max_length=1000, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta(DirectoryModel.Meta):
        verbose_name = "medical specialty"
        verbose_name_plural = "medical specialties"
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="records_medicalspecialty_name_ci",
                violation_error_message="A medical specialty with this name already exists.",
            )
        ]
        indexes = [models.Index(fields=["is_active", "name"], name="records_specialty_active")]

    def __str__(self) -> str:
        return self.name


# (name, category, description): the standard list the data migration seeds.
STANDARD_SPECIALTIES: tuple[tuple[str, str, str], ...] = (
    # medical
    ("Allergy and Immunology", "medical", "Allergies, asthma and disorders of the immune system"),
    ("Anesthesiology", "medical", "Anesthesia, sedation and pain control around procedures"),
    ("Cardiology", "medical", "The heart and blood vessels"),
    ("Dermatology", "medical", "Skin, hair and nails"),
    ("Emergency Medicine", "medical", "Urgent care of acute illness and injury"),
    ("Endocrinology", "medical", "Hormones, diabetes, thyroid and metabolism"),
    ("Family Medicine", "medical", "Primary care for every age"),
    ("Gastroenterology", "medical", "The digestive tract and liver"),
    ("Geriatric Medicine", "medical", "Care of older adults"),
    ("Hematology", "medical", "Blood and blood-forming organs"),
    ("Infectious Disease", "medical", "Infections by bacteria, viruses, fungi and parasites"),
    ("Internal Medicine", "medical", "Adult medicine and primary care"),
    ("Medical Genetics", "medical", "Inherited conditions and genetic testing"),
    ("Nephrology", "medical", "The kidneys, dialysis and electrolyte balance"),
    ("Neurology", "medical", "The brain, spinal cord and nerves"),
    ("Nuclear Medicine", "medical", "Diagnosis and treatment with radioactive tracers"),
    (
        "Obstetrics and Gynecology",
        "medical",
        "Pregnancy, childbirth and the female reproductive system",
    ),
    ("Oncology", "medical", "Diagnosis and treatment of cancer"),
    ("Ophthalmology", "medical", "Eye diseases and eye surgery"),
    ("Pathology", "medical", "Laboratory diagnosis from tissue and body fluids"),
    ("Pediatrics", "medical", "Care of infants, children and adolescents"),
    (
        "Physical Medicine and Rehabilitation",
        "medical",
        "Restoring function after injury or illness",
    ),
    ("Preventive Medicine", "medical", "Screening, prevention and public health"),
    ("Psychiatry", "medical", "Mental health diagnosis and medication"),
    ("Pulmonology", "medical", "The lungs and breathing"),
    ("Radiology", "medical", "Medical imaging: X-ray, CT, MRI and ultrasound"),
    ("Rheumatology", "medical", "Arthritis and autoimmune diseases of joints and muscles"),
    ("Sleep Medicine", "medical", "Sleep disorders such as apnea and insomnia"),
    ("Urology", "medical", "The urinary tract and male reproductive organs"),
    # surgical
    ("General Surgery", "surgical", "Surgery of the abdomen, skin, breast and soft tissue"),
    ("Cardiac Surgery", "surgical", "Surgery of the heart and great vessels"),
    ("Colorectal Surgery", "surgical", "Surgery of the colon, rectum and anus"),
    ("Neurosurgery", "surgical", "Surgery of the brain, spine and nerves"),
    ("Orthopedics", "surgical", "Bones, joints, ligaments and tendons"),
    ("Otorhinolaryngology", "surgical", "Ear, nose and throat (ENT) and head and neck surgery"),
    ("Plastic Surgery", "surgical", "Reconstructive and cosmetic surgery"),
    ("Thoracic Surgery", "surgical", "Surgery of the lungs, esophagus and chest"),
    ("Transplant Surgery", "surgical", "Organ transplantation"),
    ("Vascular Surgery", "surgical", "Surgery of arteries and veins"),
    # dental
    ("Dentistry", "dental", "General dental care of teeth and gums"),
    ("Endodontics", "dental", "Root canal treatment and the dental pulp"),
    ("Oral and Maxillofacial Surgery", "dental", "Surgery of the mouth, jaws and face"),
    ("Orthodontics", "dental", "Alignment of teeth and jaws"),
    ("Pediatric Dentistry", "dental", "Dental care of children"),
    ("Periodontics", "dental", "Gums and the structures supporting the teeth"),
    ("Prosthodontics", "dental", "Crowns, bridges, dentures and implants"),
    ("Stomatology", "dental", "Diseases of the mouth and oral mucosa"),
    # allied health
    ("Audiology", "allied_health", "Hearing and balance testing, hearing aids"),
    ("Chiropractic", "allied_health", "Spinal and musculoskeletal manipulation"),
    ("Nutrition", "allied_health", "Diet and nutrition counselling"),
    ("Occupational Therapy", "allied_health", "Skills for daily living and work"),
    ("Optometry", "allied_health", "Eye exams, glasses and contact lenses"),
    ("Physical Therapy", "allied_health", "Movement, strength and mobility rehabilitation"),
    ("Podiatry", "allied_health", "The foot and ankle"),
    ("Psychology", "allied_health", "Psychological assessment and talk therapy"),
    ("Speech Therapy", "allied_health", "Speech, language and swallowing"),
)


def seed_standard_specialties(apps, schema_editor=None) -> None:
    """Adds the standard specialties that are missing (matched by name, ignoring case).

    Idempotent: existing rows are kept as they are, except that an empty category or
    description is filled in from the standard list. For a data migration:
    `migrations.RunPython(seed_standard_specialties, migrations.RunPython.noop)`.
    """
    specialty_model = apps.get_model("records", "MedicalSpecialty")
    alias = schema_editor.connection.alias if schema_editor is not None else "default"
    manager = specialty_model.objects.using(alias)
    existing = {row.name.strip().lower(): row for row in manager.all()}
    missing = []
    for name, category, description in STANDARD_SPECIALTIES:
        row = existing.get(name.lower())
        if row is None:
            missing.append(specialty_model(name=name, category=category, description=description))
        elif not row.category or not row.description:
            row.category = row.category or category
            row.description = row.description or description
            row.save(update_fields=["category", "description"])
    manager.bulk_create(missing)


# --- practices ------------------------------------------------------------------------------

LOCATION_LIMITS = {"label": 100, "address": 200, "city": 100, "state": 50, "zip": 20, "phone": 20}
MAX_LOCATIONS = 20


def validate_practice_locations(value) -> list[dict]:
    """A practice's offices: a list of at most 20 objects with the keys of LOCATION_LIMITS.

    Returns the list with texts stripped and empty texts as null.
    """
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationError("Give a list of locations.")
    if len(value) > MAX_LOCATIONS:
        raise ValidationError(f"At most {MAX_LOCATIONS} locations are allowed.")
    cleaned = []
    for number, location in enumerate(value, start=1):
        if not isinstance(location, dict):
            raise ValidationError(f"Location {number}: give an object with named fields.")
        unknown = sorted(str(key) for key in location if key not in LOCATION_LIMITS)
        if unknown:
            allowed = ", ".join(LOCATION_LIMITS)
            raise ValidationError(
                f"Location {number}: unknown field {', '.join(unknown[:3])} (allowed: {allowed})."
            )
        item = {}
        for key, text in location.items():
            if text is not None and not isinstance(text, str):
                raise ValidationError(f"Location {number}: {key} must be text.")
            text = (text or "").strip()
            if len(text) > LOCATION_LIMITS[key]:
                raise ValidationError(
                    f"Location {number}: {key} has at most {LOCATION_LIMITS[key]} characters."
                )
            if key == "phone" and text:
                try:
                    validate_phone_number(text)
                except ValidationError as exc:
                    raise ValidationError(f"Location {number}: phone: {exc.messages[0]}") from exc
            item[key] = text or None
        cleaned.append(item)
    return cleaned


class Practice(StrippedTextMixin, DirectoryModel):
    """A medical practice or clinic; practitioners belong to at most one. Names are unique
    regardless of case."""

    name = models.CharField(max_length=150, validators=[MinLengthValidator(2)])
    phone_number = _phone_field()
    fax_number = _phone_field()
    website = _url_field()
    patient_portal_url = _url_field()
    notes = models.TextField(max_length=2000, blank=True)
    locations = models.JSONField(default=list, blank=True)

    url_fields = ("website", "patient_portal_url")

    class Meta(DirectoryModel.Meta):
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="records_practice_name_ci",
                violation_error_message="A practice with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        super().clean()
        try:
            self.locations = validate_practice_locations(self.locations)
        except ValidationError as exc:
            raise ValidationError({"locations": exc.messages}) from exc


# --- practitioners --------------------------------------------------------------------------


class Practitioner(StrippedTextMixin, DirectoryModel):
    """A doctor or other provider. The specialty is required and cannot be deleted while a
    practitioner has it; deleting the practice leaves the practitioner without one."""

    name = models.CharField(max_length=100, validators=[MinLengthValidator(2)])
    specialty = models.ForeignKey(
        MedicalSpecialty, on_delete=models.PROTECT, related_name="practitioners"
    )
    practice = models.ForeignKey(
        Practice,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="practitioners",
    )
    phone_number = _phone_field()
    email = models.EmailField(max_length=254, blank=True)
    website = _url_field()
    rating = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(5)]
    )

    url_fields = ("website",)

    class Meta(DirectoryModel.Meta):
        ordering = [Lower("name"), "id"]

    def __str__(self) -> str:
        return self.name


# --- pharmacies -----------------------------------------------------------------------------


class Pharmacy(StrippedTextMixin, DirectoryModel):
    """A pharmacy that fills prescriptions."""

    name = models.CharField(max_length=150, validators=[MinLengthValidator(3)])
    brand = models.CharField(max_length=50, blank=True, validators=[MinLengthValidator(2)])
    street_address = models.CharField(
        max_length=200, blank=True, validators=[MinLengthValidator(5)]
    )
    city = models.CharField(max_length=100, blank=True, validators=[MinLengthValidator(2)])
    state = models.CharField(max_length=50, blank=True, validators=[MinLengthValidator(2)])
    zip_code = models.CharField(max_length=20, blank=True, validators=[validate_postal_code])
    country = models.CharField(max_length=50, blank=True, validators=[MinLengthValidator(2)])
    store_number = models.CharField(max_length=20, blank=True)
    phone_number = _phone_field()
    fax_number = _phone_field()
    email = models.EmailField(max_length=254, blank=True)
    website = _url_field()
    hours = models.CharField(max_length=200, blank=True)
    drive_through = models.BooleanField(default=False)
    twenty_four_hour = models.BooleanField(default=False)
    specialty_services = models.TextField(max_length=500, blank=True)

    url_fields = ("website",)

    class Meta(DirectoryModel.Meta):
        verbose_name_plural = "pharmacies"
        ordering = [Lower("name"), "id"]

    def __str__(self) -> str:
        return self.name
