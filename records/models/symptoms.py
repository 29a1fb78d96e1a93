"""Symptoms: a definition per recurring complaint, its occurrences (episodes), and its links
to conditions, medications and treatments.

A symptom's first/last occurrence dates follow its occurrences: saving or deleting an
occurrence updates them in the same transaction (`Symptom.refresh_occurrence_dates`).
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models, transaction
from django.db.models import Case, F, Max, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from patients.core.links import PatientLinkModel
from patients.models import PatientOwnedModel, RecordKind, TaggedMixin, validate_past_date
from records.models.conditions import Condition
from records.models.medications import Medication

__all__ = [
    "MAX_DURATION_MINUTES",
    "MAX_LIST_ITEM_LENGTH",
    "MAX_LIST_ITEMS",
    "SEVERITY_RANK",
    "Symptom",
    "SymptomCondition",
    "SymptomMedication",
    "SymptomMedicationRelationshipType",
    "SymptomOccurrence",
    "SymptomOccurrenceImpactLevel",
    "SymptomOccurrenceSeverity",
    "SymptomOccurrenceTimeOfDay",
    "SymptomStatus",
    "SymptomTreatment",
    "normalise_text_list",
    "severity_rank",
]

MAX_DURATION_MINUTES = 100_000
MAX_LIST_ITEMS = 20
MAX_LIST_ITEM_LENGTH = 100


class SymptomStatus(models.TextChoices):
    # The contract lists the first three; the web app offers "recurring" too (a symptom that
    # comes and goes), so it is kept rather than refused.
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    RESOLVED = "resolved", "Resolved"
    RECURRING = "recurring", "Recurring"


class SymptomOccurrenceSeverity(models.TextChoices):
    # The four levels the web app offers for an episode. Its own set: a condition's severity
    # also takes life-threatening. (Two TextChoices with the same values would make
    # drf-spectacular's enum names collide; medikeep/api/schema.py names each set once.)
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    CRITICAL = "critical", "Critical"


# The order of severities, for "the worst of the day" (timeline) in the database.
SEVERITY_RANK = {value: rank for rank, value in enumerate(SymptomOccurrenceSeverity.values, 1)}


def severity_rank() -> Case:
    """The severity as a number (mild 1 … critical 4), an expression for aggregates."""
    return Case(
        *(When(severity=value, then=Value(rank)) for value, rank in SEVERITY_RANK.items()),
        default=Value(0),
        output_field=models.IntegerField(),
    )


class SymptomOccurrenceTimeOfDay(models.TextChoices):
    MORNING = "morning", "Morning"
    AFTERNOON = "afternoon", "Afternoon"
    EVENING = "evening", "Evening"
    NIGHT = "night", "Night"


class SymptomOccurrenceImpactLevel(models.TextChoices):
    NO_IMPACT = "no_impact", "No impact"
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    DEBILITATING = "debilitating", "Debilitating"


class SymptomMedicationRelationshipType(models.TextChoices):
    SIDE_EFFECT = "side_effect", "Side effect"
    HELPED_BY = "helped_by", "Helped by"
    RELATED_TO = "related_to", "Related to"


def normalise_text_list(values, field: str) -> list[str]:
    """Trimmed, non-empty, de-duplicated in order; at most 20 items of 100 characters."""
    if values in (None, ""):
        return []
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValidationError({field: "Give a list of texts."})
    cleaned: list[str] = []
    for value in values:
        value = value.strip()
        if not value or value in cleaned:
            continue
        if len(value) > MAX_LIST_ITEM_LENGTH:
            raise ValidationError(
                {field: f"Each item may be at most {MAX_LIST_ITEM_LENGTH} characters."}
            )
        cleaned.append(value)
    if len(cleaned) > MAX_LIST_ITEMS:
        raise ValidationError({field: f"At most {MAX_LIST_ITEMS} items are allowed."})
    return cleaned


def local_date(moment: datetime) -> date:
    """The facility-local calendar day of a moment (naive moments are taken as local)."""
    if timezone.is_naive(moment):
        return moment.date()
    return timezone.localtime(moment).date()


def local_time(moment: datetime) -> time:
    """The facility-local time of day of a moment (naive moments are taken as local)."""
    if timezone.is_naive(moment):
        return moment.time()
    return timezone.localtime(moment).time()


def validate_past_moment(value: datetime | None) -> None:
    if isinstance(value, datetime) and local_date(value) > timezone.localdate():
        raise ValidationError("The time cannot be in the future.")


# --- symptoms -------------------------------------------------------------------------------


class Symptom(TaggedMixin, PatientOwnedModel):
    """A symptom the patient has (a reusable definition); its episodes are occurrences."""

    symptom_name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True)
    body_part = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=20, choices=SymptomStatus.choices, default=SymptomStatus.ACTIVE
    )
    is_chronic = models.BooleanField(default=False)
    # Optional (the contract's create body has none); an occurrence fills it in.
    first_occurrence_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    # Follows the occurrences (see refresh_occurrence_dates); settable while there are none.
    last_occurrence_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    # Not tied to status (nor is it in the reference): a symptom may recur after the day it
    # resolved, and a status change must not drop the day the user typed.
    resolved_date = models.DateField(
        null=True,
        blank=True,
        validators=[validate_past_date],
        help_text="The day the symptom resolved (usually with status resolved).",
    )
    typical_triggers = models.JSONField(default=list, blank=True)
    notes = models.TextField(max_length=2000, blank=True)
    conditions = models.ManyToManyField(
        Condition, through="SymptomCondition", related_name="symptoms", blank=True
    )
    medications = models.ManyToManyField(
        Medication, through="SymptomMedication", related_name="symptoms", blank=True
    )
    treatments = models.ManyToManyField(
        "records.Treatment", through="SymptomTreatment", related_name="symptoms", blank=True
    )

    dashboard_key = "total_symptoms"
    kind = RecordKind(
        name="symptom",
        plural="symptoms",
        title="symptom_name",
        text=("category", "body_part", "notes"),
        date="first_occurrence_date",
    )
    dashboard_filters = {"active_symptoms": Q(status=SymptomStatus.ACTIVE)}

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_symptom_pc"),
            models.Index(fields=["patient", "symptom_name"], name="records_symptom_name"),
            models.Index(fields=["patient", "status"], name="records_symptom_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_occurrence_date__isnull=True)
                | Q(first_occurrence_date__isnull=True)
                | Q(last_occurrence_date__gte=F("first_occurrence_date")),
                name="records_symptom_occurrence_order",
                violation_error_message="The last occurrence is before the first.",
            ),
            models.CheckConstraint(
                condition=Q(resolved_date__isnull=True)
                | Q(first_occurrence_date__isnull=True)
                | Q(resolved_date__gte=F("first_occurrence_date")),
                name="records_symptom_resolved_order",
                violation_error_message="The resolved date is before the first occurrence.",
            ),
        ]

    def __str__(self) -> str:
        return self.symptom_name

    def clean(self):
        super().clean()
        self.symptom_name = (self.symptom_name or "").strip()
        if not self.symptom_name:
            raise ValidationError({"symptom_name": "The symptom name is required."})
        self.typical_triggers = normalise_text_list(self.typical_triggers, "typical_triggers")
        first, last = self.first_occurrence_date, self.last_occurrence_date
        if isinstance(first, date) and isinstance(last, date) and last < first:
            raise ValidationError(
                {"last_occurrence_date": "The last occurrence is before the first."}
            )
        resolved = self.resolved_date
        if isinstance(first, date) and isinstance(resolved, date) and resolved < first:
            raise ValidationError(
                {"resolved_date": "The resolved date is before the first occurrence."}
            )

    def save(self, *args, **kwargs):
        self.typical_triggers = normalise_text_list(self.typical_triggers, "typical_triggers")
        super().save(*args, **kwargs)

    @classmethod
    def refresh_occurrence_dates(cls, symptom_ids) -> None:
        """One UPDATE: the last occurrence date becomes the latest occurrence's (kept when
        there is none); the first moves earlier when an occurrence is earlier, never later
        (it may predate what was logged). A symptom with no first date but a resolved date
        keeps no first date when its earliest occurrence came after that day (a recurrence,
        not its start)."""
        ids = [pk for pk in symptom_ids if pk is not None]
        if not ids:
            return
        days = SymptomOccurrence.objects.filter(symptom=OuterRef("pk")).order_by().values("symptom")
        latest = Subquery(days.annotate(day=Max("occurrence_date")).values("day"))
        earliest = Subquery(days.annotate(day=Min("occurrence_date")).values("day"))
        cls.objects.filter(pk__in=ids).update(
            last_occurrence_date=Coalesce(latest, F("last_occurrence_date")),
            first_occurrence_date=Case(
                When(
                    first_occurrence_date__isnull=True,
                    resolved_date__lt=earliest,
                    then=F("first_occurrence_date"),
                ),
                When(first_occurrence_date__isnull=True, then=earliest),
                When(first_occurrence_date__gt=earliest, then=earliest),
                default=F("first_occurrence_date"),
            ),
            updated_at=timezone.now(),
        )
        from records.search.index import reindex  # the first date is the searched date

        reindex(cls, ids)


class SymptomOccurrence(PatientOwnedModel):
    """One episode of a symptom. Its patient is the symptom's."""

    symptom = models.ForeignKey(Symptom, on_delete=models.CASCADE, related_name="occurrences")
    occurrence_date = models.DateField(
        validators=[validate_past_date],
        error_messages={"null": "Give the occurrence date (occurrence_date or occurred_at)."},
    )
    # The contract's `occurred_at`: when known to the minute; its local day is the date.
    occurred_at = models.DateTimeField(null=True, blank=True, validators=[validate_past_moment])
    severity = models.CharField(max_length=20, choices=SymptomOccurrenceSeverity.choices)
    pain_scale = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)]
    )
    duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_DURATION_MINUTES)]
    )
    # The reference's free-text duration ("2 hours"), kept beside duration_minutes: the web
    # app sends only this one, the contract only the other.
    duration = models.CharField(max_length=100, blank=True)
    time_of_day = models.CharField(
        max_length=20, choices=SymptomOccurrenceTimeOfDay.choices, blank=True
    )
    location = models.CharField(max_length=200, blank=True)
    impact_level = models.CharField(
        max_length=20, choices=SymptomOccurrenceImpactLevel.choices, blank=True
    )
    triggers = models.JSONField(default=list, blank=True)
    relief_methods = models.JSONField(default=list, blank=True)
    associated_symptoms = models.JSONField(default=list, blank=True)
    resolved_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    resolved_time = models.TimeField(null=True, blank=True)
    resolution_notes = models.TextField(max_length=2000, blank=True)
    notes = models.TextField(max_length=2000, blank=True)

    dashboard_key = "total_symptom_occurrences"
    kind = RecordKind(
        name="symptom_occurrence",
        plural="symptom_occurrences",
        title="location",
        text=("triggers", "relief_methods", "notes"),
        date="occurrence_date",
        scope="symptoms",
    )

    LIST_FIELDS = ("triggers", "relief_methods", "associated_symptoms")

    class Meta(PatientOwnedModel.Meta):
        ordering = ["-occurrence_date", "-id"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_symptomoccurrence_pc"),
            models.Index(fields=["patient", "occurrence_date"], name="records_symptomocc_day"),
            models.Index(fields=["symptom", "occurrence_date"], name="records_symptomocc_sym"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_date__isnull=True)
                | Q(resolved_date__gte=F("occurrence_date")),
                name="records_symptomocc_resolved_order",
                violation_error_message="The resolved date is before the occurrence.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.symptom_id} on {self.occurrence_date} ({self.severity})"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_symptom_id = instance.__dict__.get("symptom_id")
        return instance

    def _derive(self) -> None:
        if self.occurrence_date is None and isinstance(self.occurred_at, datetime):
            self.occurrence_date = local_date(self.occurred_at)
        if self.patient_id is None and self.symptom_id is not None:
            self.patient_id = self.symptom.patient_id

    def clean_fields(self, exclude=None):
        self._derive()
        super().clean_fields(exclude=exclude)

    def clean(self):
        super().clean()
        for name in self.LIST_FIELDS:
            setattr(self, name, normalise_text_list(getattr(self, name), name))
        if self.symptom_id and self.patient_id and self.symptom.patient_id != self.patient_id:
            raise ValidationError({"symptom": "The symptom belongs to another patient."})
        day = self.occurrence_date if isinstance(self.occurrence_date, date) else None
        moment = self.occurred_at if isinstance(self.occurred_at, datetime) else None
        if day and moment and local_date(moment) != day:
            raise ValidationError(
                {"occurred_at": "occurred_at falls on another day than occurrence_date."}
            )
        if day and isinstance(self.resolved_date, date) and self.resolved_date < day:
            raise ValidationError({"resolved_date": "The resolved date is before the occurrence."})
        if (
            moment
            and self.resolved_date == local_date(moment)
            and isinstance(self.resolved_time, time)
            and self.resolved_time < local_time(moment)
        ):
            raise ValidationError({"resolved_time": "The episode resolved before it began."})

    def save(self, *args, **kwargs):
        self._derive()
        for name in self.LIST_FIELDS:
            setattr(self, name, normalise_text_list(getattr(self, name), name))
        with transaction.atomic():
            super().save(*args, **kwargs)
            # Moving an occurrence to another symptom refreshes both.
            Symptom.refresh_occurrence_dates(
                {self.symptom_id, getattr(self, "_stored_symptom_id", None)}
            )
        self._stored_symptom_id = self.symptom_id

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            result = super().delete(*args, **kwargs)
            Symptom.refresh_occurrence_dates({self.symptom_id})
        return result


# --- links ----------------------------------------------------------------------------------


class SymptomCondition(PatientLinkModel):
    """A condition the symptom belongs to (the contract's body calls the note `notes`)."""

    symptom = models.ForeignKey(Symptom, on_delete=models.CASCADE, related_name="condition_links")
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="symptom_links")
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("symptom", "condition")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["symptom", "condition"], name="records_symptom_condition_unique"
            )
        ]


class SymptomMedication(PatientLinkModel):
    """A medication that causes (side effect), relieves (helped by) or relates to a symptom."""

    symptom = models.ForeignKey(Symptom, on_delete=models.CASCADE, related_name="medication_links")
    medication = models.ForeignKey(
        Medication, on_delete=models.CASCADE, related_name="symptom_links"
    )
    relationship_type = models.CharField(
        max_length=20,
        choices=SymptomMedicationRelationshipType.choices,
        default=SymptomMedicationRelationshipType.RELATED_TO,
    )
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("symptom", "medication")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["symptom", "medication"], name="records_symptom_medication_unique"
            )
        ]


class SymptomTreatment(PatientLinkModel):
    """A treatment aimed at a symptom."""

    symptom = models.ForeignKey(Symptom, on_delete=models.CASCADE, related_name="treatment_links")
    treatment = models.ForeignKey(
        "records.Treatment", on_delete=models.CASCADE, related_name="symptom_links"
    )
    relevance_note = models.CharField(max_length=500, blank=True)

    link_sides = ("symptom", "treatment")

    class Meta(PatientLinkModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["symptom", "treatment"], name="records_symptom_treatment_unique"
            )
        ]
