"""Injuries, the injury-type catalogue, and the injury links to medications, conditions,
treatments and procedures."""

from __future__ import annotations

from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models.functions import Lower

from patients.core.links import PatientLinkModel
from patients.models import PatientOwnedModel, RecordKind, TaggedMixin, validate_past_date
from records.models.conditions import Condition
from records.models.medications import Medication
from records.models.procedures import Procedure
from records.reference import DirectoryModel, directory_link

__all__ = [
    "SYSTEM_INJURY_TYPES",
    "Injury",
    "InjuryCondition",
    "InjuryLaterality",
    "InjuryMedication",
    "InjuryProcedure",
    "InjurySeverity",
    "InjuryStatus",
    "InjuryTreatment",
    "InjuryType",
    "seed_system_injury_types",
]


class InjuryStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    HEALING = "healing", "Healing"
    RESOLVED = "resolved", "Resolved"
    CHRONIC = "chronic", "Chronic"


class InjurySeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    LIFE_THREATENING = "life-threatening", "Life-threatening"


class InjuryLaterality(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    BILATERAL = "bilateral", "Bilateral"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


# (name, description) of the types every installation has; they cannot be deleted.
SYSTEM_INJURY_TYPES: list[tuple[str, str]] = [
    ("Sprain/Strain", "Stretched or torn ligament, muscle or tendon"),
    ("Fracture", "Broken or cracked bone"),
    ("Laceration/Cut", "Tear or cut through the skin"),
    ("Burn", "Damage to skin or tissue from heat, chemicals, electricity or radiation"),
    ("Contusion/Bruise", "Bleeding under the skin from a blow, without a break in the skin"),
    ("Dislocation", "Bone forced out of its normal position in a joint"),
    ("Concussion", "Brain injury from a blow or jolt to the head"),
    ("Abrasion", "Scrape that removes the top layers of skin"),
    ("Puncture Wound", "Small deep hole made by a pointed object"),
    ("Other", "Any other kind of injury"),
]


class InjuryType(DirectoryModel):
    """An entry of the global injury-type list (reference data, not patient data).

    System types come with the installation (created_by empty); any signed-in user may add a
    type, which only its creator or an admin may delete, and only while no injury uses it.
    Names are unique regardless of letter case.
    """

    name = models.CharField(max_length=100, validators=[MinLengthValidator(2)])
    description = models.CharField(max_length=300, blank=True)
    is_system = models.BooleanField(default=False)

    class Meta(DirectoryModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="records_injurytype_name_ci",
                violation_error_message="An injury type with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        super().clean()
        self.name = (self.name or "").strip()
        self.description = (self.description or "").strip()


def seed_system_injury_types(apps, schema_editor) -> None:
    """Adds the system injury types (idempotent: matched by name, any letter case).

    Usable as a data migration's RunPython(seed_system_injury_types, RunPython.noop); tests
    call it with django.apps.apps.
    """
    model = apps.get_model("records", "InjuryType")
    for name, description in SYSTEM_INJURY_TYPES:
        existing = model.objects.filter(name__iexact=name).first()
        if existing is None:
            model.objects.create(name=name, description=description, is_system=True)
        elif not existing.is_system:
            existing.is_system = True
            existing.description = existing.description or description
            existing.save(update_fields=["is_system", "description"])


class Injury(TaggedMixin, PatientOwnedModel):
    """A physical injury (sprain, fracture, burn …) and its recovery."""

    injury_name = models.CharField(max_length=300, validators=[MinLengthValidator(2)])
    # PROTECT: a type in use cannot be deleted (the API answers 400 before this is reached).
    injury_type = models.ForeignKey(
        InjuryType, null=True, blank=True, on_delete=models.PROTECT, related_name="injuries"
    )
    body_part = models.CharField(max_length=100, validators=[MinLengthValidator(1)])
    laterality = models.CharField(max_length=20, choices=InjuryLaterality.choices, blank=True)
    date_of_injury = models.DateField(null=True, blank=True, validators=[validate_past_date])
    mechanism = models.CharField(max_length=500, blank=True)
    severity = models.CharField(max_length=20, choices=InjurySeverity.choices, blank=True)
    status = models.CharField(
        max_length=20, choices=InjuryStatus.choices, default=InjuryStatus.ACTIVE
    )
    treatment_received = models.TextField(max_length=2000, blank=True)
    recovery_notes = models.TextField(max_length=2000, blank=True)
    notes = models.TextField(max_length=2000, blank=True)
    practitioner = directory_link("Practitioner", "Who treated it.")
    medications = models.ManyToManyField(
        Medication, through="InjuryMedication", related_name="injuries", blank=True
    )
    conditions = models.ManyToManyField(
        Condition, through="InjuryCondition", related_name="injuries", blank=True
    )
    treatments = models.ManyToManyField(
        "records.Treatment", through="InjuryTreatment", related_name="injuries", blank=True
    )
    procedures = models.ManyToManyField(
        Procedure, through="InjuryProcedure", related_name="injuries", blank=True
    )

    dashboard_key = "total_injuries"
    kind = RecordKind(
        name="injury",
        plural="injuries",
        title="injury_name",
        text=("body_part", "mechanism", "treatment_received", "notes"),
        date="date_of_injury",
    )

    class Meta(PatientOwnedModel.Meta):
        verbose_name_plural = "injuries"
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_injury_pc"),
            models.Index(fields=["patient", "status"], name="records_injury_status"),
            models.Index(fields=["patient", "date_of_injury"], name="records_injury_date"),
        ]

    def __str__(self) -> str:
        return self.injury_name


class _InjuryLink(PatientLinkModel):
    relevance_note = models.CharField(max_length=500, blank=True)

    class Meta(PatientLinkModel.Meta):
        abstract = True


class InjuryMedication(_InjuryLink):
    """A medication taken for an injury (pain relief, healing …)."""

    injury = models.ForeignKey(Injury, on_delete=models.CASCADE, related_name="medication_links")
    medication = models.ForeignKey(
        Medication, on_delete=models.CASCADE, related_name="injury_links"
    )

    link_sides = ("injury", "medication")

    class Meta(_InjuryLink.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["injury", "medication"], name="records_injury_medication_unique"
            )
        ]


class InjuryCondition(_InjuryLink):
    """A condition related to an injury (its cause or its consequence)."""

    injury = models.ForeignKey(Injury, on_delete=models.CASCADE, related_name="condition_links")
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="injury_links")

    link_sides = ("injury", "condition")

    class Meta(_InjuryLink.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["injury", "condition"], name="records_injury_condition_unique"
            )
        ]


class InjuryTreatment(_InjuryLink):
    """A treatment plan for an injury (physical therapy …)."""

    injury = models.ForeignKey(Injury, on_delete=models.CASCADE, related_name="treatment_links")
    treatment = models.ForeignKey(
        "records.Treatment", on_delete=models.CASCADE, related_name="injury_links"
    )

    link_sides = ("injury", "treatment")

    class Meta(_InjuryLink.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["injury", "treatment"], name="records_injury_treatment_unique"
            )
        ]


class InjuryProcedure(_InjuryLink):
    """A procedure done for an injury (a repair, a cast …)."""

    injury = models.ForeignKey(Injury, on_delete=models.CASCADE, related_name="procedure_links")
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="injury_links")

    link_sides = ("injury", "procedure")

    class Meta(_InjuryLink.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["injury", "procedure"], name="records_injury_procedure_unique"
            )
        ]
