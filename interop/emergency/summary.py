"""What an emergency summary holds, read in one selector with a fixed number of queries.

The summary is what a stranger treating the patient needs first: who it is (name, birth
date, age, blood type), what could hurt them (active allergies, most dangerous first), what
they have and take (active conditions, active medications with dose and frequency), whom to
call (emergency contacts, the primary one first) and who pays (current insurances, primary
first). The JSON answer, the PDF, the FHIR document and the public page all render this one
object, so they never disagree about what "active" means.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from patients.models import Patient
from records.models import (
    Allergy,
    AllergySeverity,
    AllergyStatus,
    Condition,
    ConditionStatus,
    EmergencyContact,
    Insurance,
    InsuranceStatus,
    Medication,
    MedicationStatus,
)

# Conditions that still affect the patient: FHIR's clinicalStatus active, recurrence and
# relapse, and our "chronic" (a lasting, active condition). Inactive and resolved ones are
# history, not what someone treating the patient now must know.
ACTIVE_CONDITION_STATUSES = (
    ConditionStatus.ACTIVE,
    ConditionStatus.CHRONIC,
    ConditionStatus.RECURRENCE,
    ConditionStatus.RELAPSE,
)

# Most dangerous first; anything else (a value from before the choices) after them.
_SEVERITY_RANK = Case(
    When(severity=AllergySeverity.LIFE_THREATENING, then=Value(0)),
    When(severity=AllergySeverity.SEVERE, then=Value(1)),
    When(severity=AllergySeverity.MODERATE, then=Value(2)),
    When(severity=AllergySeverity.MILD, then=Value(3)),
    default=Value(4),
    output_field=IntegerField(),
)

# The record kinds a summary holds, by the name the FHIR maps use, with their section.
SECTION_KINDS = {
    "allergies": "allergy",
    "conditions": "condition",
    "medications": "medication",
    "emergency_contacts": "emergency_contact",
    "insurances": "insurance",
}


@dataclass
class EmergencySummary:
    """One patient's emergency summary: the rows themselves, in the order they are shown."""

    patient: Patient
    generated_at: dt.datetime
    allergies: list[Allergy] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    emergency_contacts: list[EmergencyContact] = field(default_factory=list)
    insurances: list[Insurance] = field(default_factory=list)

    @property
    def age(self) -> int | None:
        return age_on(self.patient.birth_date, timezone.localdate(self.generated_at))

    def section(self, name: str) -> list:
        return getattr(self, name)


def age_on(birth_date: dt.date | None, day: dt.date) -> int | None:
    """Whole years from `birth_date` to `day` (a 29 February birthday counts on 1 March)."""
    if birth_date is None:
        return None
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


def section_querysets(patient_id: int, today: dt.date) -> dict[str, QuerySet]:
    """Each section's rows of the patient, filtered to what is current and ordered."""
    return {
        "allergies": Allergy.objects.filter(patient_id=patient_id, status=AllergyStatus.ACTIVE)
        .annotate(_rank=_SEVERITY_RANK)
        .order_by("_rank", "allergen", "id"),
        "conditions": Condition.objects.filter(
            patient_id=patient_id, status__in=ACTIVE_CONDITION_STATUSES
        ).order_by("condition_name", "id"),
        "medications": Medication.objects.filter(
            patient_id=patient_id, status=MedicationStatus.ACTIVE
        ).order_by("medication_name", "id"),
        "emergency_contacts": EmergencyContact.objects.filter(
            patient_id=patient_id, is_active=True
        ).order_by("-is_primary", "name", "id"),
        # An "active" plan whose expiration date has passed pays nothing any more.
        "insurances": Insurance.objects.filter(patient_id=patient_id, status=InsuranceStatus.ACTIVE)
        .filter(Q(expiration_date__isnull=True) | Q(expiration_date__gte=today))
        .order_by("-is_primary", "insurance_type", "-effective_date", "id"),
    }


def emergency_summary(patient: Patient | int, *, prepare=None) -> EmergencySummary:
    """The emergency summary of one patient: one query per section (and one for the patient
    when given an id), whatever the number of rows.

    The caller has checked access (patients/access.py) or holds a valid emergency link.
    `prepare(kind, queryset)` may add select_related/prefetch_related for a renderer that
    reads more (the FHIR maps' `queryset()`); it must not filter.
    """
    if not isinstance(patient, Patient):
        patient = Patient.objects.get(pk=patient)
    generated_at = timezone.now()
    summary = EmergencySummary(patient=patient, generated_at=generated_at)
    for name, queryset in section_querysets(patient.pk, timezone.localdate(generated_at)).items():
        if prepare is not None:
            queryset = prepare(SECTION_KINDS[name], queryset)
        setattr(summary, name, list(queryset))
    return summary
