"""Which record types take files, under the names clients use for them.

One table, no per-type code: each contract name points at a registered record type. Several
names may share a type (the web app says "visit" where older clients say "encounter"); the
first name listed for a type is the one stored, so both names find the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

ENTITY_TYPES: dict[str, str] = {
    "lab-result": "records.LabResult",
    "medication": "records.Medication",
    "allergy": "records.Allergy",
    "condition": "records.Condition",
    "immunization": "records.Immunization",
    "procedure": "records.Procedure",
    "treatment": "records.Treatment",
    "visit": "records.Encounter",
    "encounter": "records.Encounter",
    "injury": "records.Injury",
    "insurance": "records.Insurance",
    "symptom": "records.Symptom",
    "medical_equipment": "records.MedicalEquipment",
    "equipment": "records.MedicalEquipment",
    "vitals": "records.Vitals",
}


@dataclass(frozen=True)
class EntityType:
    name: str  # the stored (canonical) name
    model: type

    def patient_of(self, entity_id: int) -> int | None:
        """The record's patient, or None when there is no such record."""
        return (
            self.model._default_manager.filter(pk=entity_id)
            .values_list("patient_id", flat=True)
            .first()
        )


@cache
def _by_name() -> dict[str, EntityType]:
    from patients.models import record_models

    registered = set(record_models())
    canonical: dict[str, EntityType] = {}
    table: dict[str, EntityType] = {}
    for name, label in ENTITY_TYPES.items():
        model = apps.get_model(label)
        if model not in registered:
            raise ImproperlyConfigured(f"{label} takes files but is not a patient-owned record.")
        table[name] = canonical.setdefault(label, EntityType(name, model))
    return table


def find_type(name: str) -> EntityType | None:
    return _by_name().get(name)


def names_of(model: type) -> list[str]:
    """Every name a record type's files may be asked for by."""
    label = model._meta.label
    return [name for name, target in ENTITY_TYPES.items() if target == label]


def canonical_types() -> list[EntityType]:
    return list({et.name: et for et in _by_name().values()}.values())


def canonical_of(model: type) -> str | None:
    for et in canonical_types():
        if et.model is model:
            return et.name
    return None
