"""The emergency summary as a FHIR R4 document Bundle in the manner of the International
Patient Summary (IPS).

The Bundle (type "document") starts with a Composition (LOINC 60591-5, Patient summary
Document) whose sections list the resources that follow it: allergies (48765-2), medications
(10160-0), problems (11450-4), results (30954-2: the blood group Observation, LOINC 882-1),
and two sections of our own, emergency contacts and insurance. A section with nothing in it
says so with an emptyReason. Each record becomes its resource through the record kind's map
(interop/fhir/maps), exactly as in the full FHIR export, so both agree. Directory entries the
resources point at (the prescriber, the pharmacy, the family doctor) are included too, so
every reference resolves inside the document; a reference to something outside the summary
(an inactive medication an allergy is linked to) is cut, keeping its display text if any.
"""

from __future__ import annotations

import html
import json
import uuid
from typing import Any

from django.db import models

from interop.emergency.summary import SECTION_KINDS, EmergencySummary, emergency_summary
from interop.fhir import maps as registry
from interop.fhir.maps.base import ExportContext
from interop.models import ExternalIdentifier, ServerIdentity

LOINC = "http://loinc.org"
SECTION_SYSTEM = "urn:medikeep:emergency-summary-section"
EMPTY_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
XHTML = "http://www.w3.org/1999/xhtml"

# (summary section, title, codings); the order of the Composition's sections.
SECTIONS = [
    (
        "allergies",
        "Allergies and intolerances",
        [
            {
                "system": LOINC,
                "code": "48765-2",
                "display": "Allergies and adverse reactions Document",
            }
        ],
    ),
    (
        "medications",
        "Medication summary",
        [{"system": LOINC, "code": "10160-0", "display": "History of Medication use Narrative"}],
    ),
    (
        "conditions",
        "Problem list",
        [{"system": LOINC, "code": "11450-4", "display": "Problem list - Reported"}],
    ),
    (
        "blood_type",
        "Results",
        [
            {
                "system": LOINC,
                "code": "30954-2",
                "display": "Relevant diagnostic tests/laboratory data Narrative",
            }
        ],
    ),
    (
        "emergency_contacts",
        "Emergency contacts",
        [{"system": SECTION_SYSTEM, "code": "emergency-contacts", "display": "Emergency contacts"}],
    ),
    (
        "insurances",
        "Insurance",
        [
            {"system": SECTION_SYSTEM, "code": "insurance", "display": "Insurance"},
            {"system": LOINC, "code": "48768-6", "display": "Payment sources Document"},
        ],
    ),
]


def export_context(base_url: str) -> ExportContext:
    """The context the maps write with: this server's identifier system and the uuid5
    namespace of its instance, so resource ids match the full FHIR export's."""
    identity, _ = ServerIdentity.objects.get_or_create(pk=1)
    return ExportContext(
        system=str(identity), base_url=base_url.rstrip("/"), namespace=identity.instance
    )


def prepare(kind: str, queryset: models.QuerySet) -> models.QuerySet:
    """emergency_summary's hook: what the kind's map reads, loaded with the rows."""
    return registry.map_for_kind(kind).queryset(queryset)


def summary_bundle(summary: EmergencySummary, *, base_url: str) -> dict[str, Any]:
    """The summary as a FHIR document Bundle (a dict in FHIR JSON)."""
    ctx = export_context(base_url)
    patient = summary.patient
    _load_kept_identifiers(ctx, summary)
    patient_resource = registry.map_for_kind("patient").to_resource(patient, ctx)
    patient_url = _full_url(patient_resource)
    generated = summary.generated_at.isoformat()

    resources: list[dict] = [patient_resource]
    section_entries: dict[str, list[dict]] = {}
    for name, kind in SECTION_KINDS.items():
        made = [registry.map_for_kind(kind).to_resource(row, ctx) for row in summary.section(name)]
        resources += made
        section_entries[name] = made
    blood = _blood_type(summary, ctx, patient_url)
    section_entries["blood_type"] = [blood] if blood else []
    resources += section_entries["blood_type"]
    author = _author(ctx)
    resources += [author]
    resources += _directory_entries(summary, ctx)

    composition = {
        "resourceType": "Composition",
        "id": str(uuid.uuid4()),
        "status": "final",
        "type": {
            "coding": [{"system": LOINC, "code": "60591-5", "display": "Patient summary Document"}]
        },
        "subject": {"reference": patient_url, "display": patient.full_name},
        "date": generated,
        "author": [{"reference": _full_url(author), "display": "MediKeep"}],
        "title": f"Emergency summary: {patient.full_name}",
        "section": [
            _section(title, codings, section_entries[name], summary, name)
            for name, title, codings in SECTIONS
        ],
    }
    kept = {_full_url(resource) for resource in resources} | {f"urn:uuid:{composition['id']}"}
    entries = [composition, *resources]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "document",
        "timestamp": generated,
        "entry": [
            {"fullUrl": f"urn:uuid:{resource['id']}", "resource": _prune(resource, kept)}
            for resource in entries
        ],
    }


def summary_bundle_json(summary: EmergencySummary, *, base_url: str) -> str:
    return json.dumps(summary_bundle(summary, base_url=base_url), ensure_ascii=False)


def patient_bundle(patient, *, base_url: str) -> dict[str, Any]:
    """Reads the summary with what the maps need and returns its Bundle."""
    return summary_bundle(emergency_summary(patient, prepare=prepare), base_url=base_url)


# --- pieces ---------------------------------------------------------------------------------


def _full_url(resource: dict) -> str:
    return f"urn:uuid:{resource['id']}"


def _load_kept_identifiers(ctx: ExportContext, summary: EmergencySummary) -> None:
    """Identifiers the rows came with from elsewhere, as the full export carries them."""
    kinds = ["patient", *SECTION_KINDS.values()]
    rows = ExternalIdentifier.objects.filter(
        patient_id=summary.patient.pk, record_type__in=kinds
    ).order_by("id")
    for row in rows:
        ctx.kept.setdefault((row.record_type, row.record_id), []).append(
            {"system": row.system, "value": row.value}
        )


def _blood_type(summary: EmergencySummary, ctx: ExportContext, patient_url: str) -> dict | None:
    value = summary.patient.blood_type
    if not value:
        return None
    # Written as text only: the record holds the letters the patient entered, not a result
    # with a coded answer, and a wrong code would be worse than none.
    return {
        "resourceType": "Observation",
        "id": ctx.resource_id("blood_type", summary.patient.pk),
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": LOINC, "code": "882-1", "display": "ABO and Rh group [Type] in Blood"}
            ],
            "text": "Blood type",
        },
        "subject": {"reference": patient_url},
        "valueCodeableConcept": {"text": value},
    }


def _author(ctx: ExportContext) -> dict:
    """The software that wrote the document (Composition.author is required)."""
    return {
        "resourceType": "Device",
        "id": ctx.resource_id("device", "medikeep"),
        "deviceName": [{"name": "MediKeep", "type": "user-friendly-name"}],
    }


def _directory_entries(summary: EmergencySummary, ctx: ExportContext) -> list[dict]:
    """Resources of the directory entries the summary's rows point at (and those they point
    at in turn), one query per directory model and level."""
    maps_by_model = {m.model: m for m in registry.REGISTRY if getattr(m, "directory", False)}
    rows: list[models.Model] = [summary.patient]
    for name in SECTION_KINDS:
        rows += summary.section(name)
    seen: set[tuple[type, int]] = set()
    out: list[dict] = []
    for _level in range(3):  # patient → practitioner → practice is the deepest chain
        wanted: dict[type, set[int]] = {}
        for row in rows:
            for field in row._meta.concrete_fields:
                if field.many_to_one and field.related_model in maps_by_model:
                    pk = getattr(row, field.attname)
                    if pk is not None and (field.related_model, pk) not in seen:
                        wanted.setdefault(field.related_model, set()).add(pk)
                        seen.add((field.related_model, pk))
        if not wanted:
            break
        rows = []
        for model, ids in wanted.items():
            directory_map = maps_by_model[model]
            found = list(directory_map.queryset(model.objects.filter(pk__in=ids)).order_by("pk"))
            out += [directory_map.to_resource(row, ctx) for row in found]
            rows += found
    return out


def _narrative(lines: list[str]) -> dict:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    body = f"<ul>{items}</ul>" if lines else "<p>None recorded.</p>"
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def _lines(summary: EmergencySummary, name: str) -> list[str]:
    """One line of text per item of a section, for its narrative."""

    def joined(*parts) -> str:
        return ", ".join(str(p) for p in parts if p)

    if name == "blood_type":
        return [f"Blood type: {summary.patient.blood_type}"] if summary.patient.blood_type else []
    rows = summary.section(name)
    if name == "allergies":
        return [joined(a.allergen, a.get_severity_display(), a.reaction) for a in rows]
    if name == "medications":
        return [joined(m.medication_name, m.dosage, m.frequency) for m in rows]
    if name == "conditions":
        return [joined(c.condition_name, c.get_status_display()) for c in rows]
    if name == "emergency_contacts":
        return [
            joined(c.name, c.get_relationship_display(), c.phone_number, c.is_primary and "primary")
            for c in rows
        ]
    return [
        joined(
            i.company_name, i.get_insurance_type_display(), i.member_id, i.is_primary and "primary"
        )
        for i in rows
    ]


def _section(
    title: str, codings: list[dict], resources: list[dict], summary: EmergencySummary, name: str
) -> dict:
    section: dict[str, Any] = {
        "title": title,
        "code": {"coding": codings},
        "text": _narrative(_lines(summary, name)),
    }
    if resources:
        section["entry"] = [{"reference": _full_url(r)} for r in resources]
    else:
        # Nothing recorded is not the same as "known to have none": the record was not
        # asked to say so, hence "unavailable" rather than "nilknown".
        section["emptyReason"] = {
            "coding": [
                {"system": EMPTY_REASON_SYSTEM, "code": "unavailable", "display": "Unavailable"}
            ],
            "text": "None recorded",
        }
    return section


_DROP = object()


def _prune(node, kept: set[str]):
    """`node` without references to resources outside the bundle: a Reference keeps its
    display when it has one, else goes; an extension left without a value goes too."""
    if isinstance(node, list):
        items = [item for item in (_prune(item, kept) for item in node) if item is not _DROP]
        return items if items else _DROP
    if not isinstance(node, dict):
        return node
    reference = node.get("reference")
    if isinstance(reference, str) and not reference.startswith("#") and reference not in kept:
        node = {key: value for key, value in node.items() if key != "reference"}
        if not node.get("display"):
            return _DROP
    out = {}
    for key, value in node.items():
        pruned = _prune(value, kept)
        if pruned is not _DROP:
            out[key] = pruned
    had_value = any(key.startswith("value") or key == "extension" for key in node)
    if (
        "url" in node
        and had_value
        and not any(key.startswith("value") or key == "extension" for key in out)
    ):
        return _DROP
    return out if out else _DROP
