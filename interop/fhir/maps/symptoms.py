"""Symptoms and their occurrences as Observations (an occurrence is `derivedFrom` its
symptom's), and gauges (self-rated scores) as Observations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from interop.fhir.codes import (
    CONDITION_CLINICAL,
    LOINC,
    OBSERVATION_CATEGORY,
    SNOMED,
    category,
    choice_of,
    code_in,
    coding,
    fhir_date,
    fhir_datetime,
    has_category,
    has_time,
    number,
    parse_date,
    parse_datetime,
    reference_of_type,
    require_type,
    tolerant,
    typed_reference,
)
from interop.fhir.maps.base import (
    CannotImport,
    ExportContext,
    ImportContext,
    Parsed,
    concept_text,
    extension_url,
    notes_in,
    notes_out,
    reference_of,
)
from interop.fhir.maps.observations import (
    PAIN_SCORE,
    SCORE_UNIT,
    ObservationMap,
    _effective,
    _own_code,
)
from records.models import (
    Gauge,
    GaugeType,
    Symptom,
    SymptomOccurrence,
    SymptomOccurrenceSeverity,
    SymptomStatus,
)
from records.models.symptoms import local_date, local_time

SYMPTOM_CLINICAL = {
    SymptomStatus.ACTIVE: "active",
    SymptomStatus.INACTIVE: "inactive",
    SymptomStatus.RESOLVED: "resolved",
    SymptomStatus.RECURRING: "recurrence",
}
SYMPTOM_FROM_CLINICAL = {code: ours for ours, code in SYMPTOM_CLINICAL.items()} | {
    "relapse": SymptomStatus.RECURRING,
    "remission": SymptomStatus.INACTIVE,
}
SEVERITY_CODES = {
    "mild": ("255604002", "Mild"),
    "moderate": ("6736007", "Moderate"),
    "severe": ("24484000", "Severe"),
    "critical": ("442452003", "Life threatening severity"),
}
SEVERITY_FROM_CODE = {code: ours for ours, (code, _d) in SEVERITY_CODES.items()}
# SNOMED CT "Finding reported by subject or history provider": how others mark a symptom.
REPORTED_FINDING = "418799008"


def _own_categories(concepts) -> list[dict[str, Any]]:
    """Category entries that are not observation-category codes (the user's own)."""
    return [
        c
        for c in concepts or []
        if isinstance(c, dict) and not code_in(c, OBSERVATION_CATEGORY) and concept_text(c)
    ]


class SymptomMap(ObservationMap):
    kind = "symptom"
    model = Symptom
    extras = ("is_chronic", "resolved_date", "typical_triggers")

    def to_resource(self, record: Symptom, ctx: ExportContext) -> dict[str, Any]:
        categories = [category("survey", "Survey")]
        if record.category:
            categories.append({"text": record.category})
        period = {
            "start": fhir_date(record.first_occurrence_date),
            "end": fhir_date(record.last_occurrence_date),
        }
        return self.base(
            record,
            ctx,
            status="final",
            category=categories,
            code={"text": record.symptom_name},
            subject=ctx.ref("patient", record.patient_id),
            effectivePeriod={k: v for k, v in period.items() if v},
            valueCodeableConcept={
                "coding": [coding(CONDITION_CLINICAL, SYMPTOM_CLINICAL[record.status])],
                "text": record.get_status_display(),
            },
            bodySite={"text": record.body_part} if record.body_part else None,
            note=notes_out(record.notes),
        )

    def claims_foreign(self, resource: dict[str, Any]) -> bool:
        return code_in(resource.get("code"), SNOMED) == REPORTED_FINDING or any(
            has_category(resource, text) for text in ("symptom", "symptoms")
        )

    @tolerant
    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        require_type(resource, "Observation")
        name = concept_text(resource.get("code"))
        if code_in(resource.get("code"), SNOMED) == REPORTED_FINDING and resource.get(
            "valueCodeableConcept"
        ):
            name = concept_text(resource["valueCodeableConcept"])  # the finding is the value
        if not name:
            raise CannotImport("the symptom has no name (code.text)")
        parsed = Parsed()
        value = resource.get("valueCodeableConcept")
        status = choice_of((value or {}).get("text"), SymptomStatus.choices)
        status = status or SYMPTOM_FROM_CLINICAL.get(code_in(value, CONDITION_CLINICAL) or "")
        period = resource.get("effectivePeriod") or {}
        own = _own_categories(resource.get("category"))
        parsed.fields = {
            "symptom_name": name[:200],
            "category": concept_text(own[0])[:100] if own else "",
            "body_part": concept_text(resource.get("bodySite"))[:100],
            "status": status or SymptomStatus.ACTIVE,
            "first_occurrence_date": parse_date(
                period.get("start") or resource.get("effectiveDateTime"), "effective"
            ),
            "last_occurrence_date": parse_date(period.get("end"), "effectivePeriod.end"),
            "notes": notes_in(resource),
            **self.read_extras(resource),
        }
        return parsed


class SymptomOccurrenceMap(ObservationMap):
    """An episode: an Observation derived from its symptom's Observation (`derivedFrom`)."""

    kind = "symptom_occurrence"
    model = SymptomOccurrence
    extras = (
        "duration_minutes",
        "duration",
        "time_of_day",
        "impact_level",
        "triggers",
        "relief_methods",
        "associated_symptoms",
        "resolution_notes",
    )

    def queryset(self, queryset):
        return queryset.select_related("symptom")

    def before_save(self, instance, parsed: Parsed, ictx: ImportContext) -> None:
        if instance.symptom_id is None:
            raise CannotImport("its symptom (derivedFrom) is neither in the bundle nor here")

    def to_resource(self, record: SymptomOccurrence, ctx: ExportContext) -> dict[str, Any]:
        start = fhir_datetime(record.occurred_at) or fhir_date(record.occurrence_date)
        effective: dict[str, Any] = {"effectiveDateTime": start}
        extensions = []
        if record.resolved_date:
            end = fhir_date(record.resolved_date)
            if record.resolved_time is not None:
                end = fhir_datetime(datetime.combine(record.resolved_date, record.resolved_time))
            effective = {"effectivePeriod": {"start": start, "end": end}}
        elif record.resolved_time is not None:
            extensions.append(
                self.ext("resolved_time", record.resolved_time.isoformat(), "valueTime")
            )
        code, display = SEVERITY_CODES[record.severity]
        components = []
        if record.pain_scale is not None:
            components.append(
                {
                    "code": {"coding": [coding(LOINC, PAIN_SCORE)], "text": "Pain scale"},
                    "valueInteger": record.pain_scale,
                }
            )
        return self.base(
            record,
            ctx,
            extension=extensions,
            status="final",
            category=[category("survey", "Survey")],
            code={"text": record.symptom.symptom_name},
            subject=ctx.ref("patient", record.patient_id),
            **effective,
            valueCodeableConcept={
                "coding": [coding(SNOMED, code, display)],
                "text": record.get_severity_display(),
            },
            bodySite={"text": record.location} if record.location else None,
            note=notes_out(record.notes),
            derivedFrom=[typed_reference(ctx.ref("symptom", record.symptom_id), "Observation")],
            component=components,
        )

    @tolerant
    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        require_type(resource, "Observation")
        symptom = next(filter(None, map(reference_of, resource.get("derivedFrom") or [])), None)
        if symptom is None:
            raise CannotImport("the occurrence names no symptom (derivedFrom)")
        period = resource.get("effectivePeriod") or {}
        start = resource.get("effectiveDateTime") or period.get("start")
        if not start:
            raise CannotImport("the occurrence has no date (effectiveDateTime)")
        fields: dict[str, Any] = {"occurred_at": None, "resolved_date": None, "resolved_time": None}
        if has_time(start):
            fields["occurred_at"] = parse_datetime(start, "effective")
            fields["occurrence_date"] = local_date(fields["occurred_at"])
        else:
            fields["occurrence_date"] = parse_date(start, "effective")
        end = period.get("end")
        if has_time(end):
            moment = parse_datetime(end, "effectivePeriod.end")
            fields["resolved_date"], fields["resolved_time"] = (
                local_date(moment),
                local_time(moment),
            )
        elif end:
            fields["resolved_date"] = parse_date(end, "effectivePeriod.end")
        else:
            kept = self.ext_value(resource, "resolved_time")
            fields["resolved_time"] = _time_of(kept)
        value = resource.get("valueCodeableConcept")
        severity = choice_of((value or {}).get("text"), SymptomOccurrenceSeverity.choices)
        severity = severity or SEVERITY_FROM_CODE.get(code_in(value, SNOMED) or "")
        if not severity:
            raise CannotImport("the occurrence has no severity we know (valueCodeableConcept)")
        pain = None
        for component in resource.get("component") or []:
            if isinstance(component, dict) and code_in(component.get("code"), LOINC) == PAIN_SCORE:
                pain = component.get("valueInteger")
                if pain is None:
                    pain = (component.get("valueQuantity") or {}).get("value")
                pain = None if pain is None else round(number(pain, "pain scale"))
        parsed = Parsed(references={"symptom": symptom})
        parsed.fields = {
            **fields,
            "severity": severity,
            "pain_scale": pain,
            "location": concept_text(resource.get("bodySite"))[:200],
            "notes": notes_in(resource),
            **self.read_extras(resource),
        }
        return parsed


def _time_of(value):
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value[:8], "%H:%M:%S").time()
    except ValueError:
        return None


# --- gauges -------------------------------------------------------------------------------------


class GaugeMap(ObservationMap):
    """A self-rated score: valueQuantity in {score}, its scale bounds as extensions (a scale
    is not a reference range), the medication it is about as `focus`."""

    kind = "gauge"
    model = Gauge
    extras = ("scale_min", "scale_max")

    def to_resource(self, record: Gauge, ctx: ExportContext) -> dict[str, Any]:
        label = dict(GaugeType.choices).get(record.gauge_type, record.gauge_type)
        focus = []
        if record.medication_id:
            medication = ctx.ref("medication", record.medication_id)
            focus.append(typed_reference(medication, "MedicationStatement"))
        return self.base(
            record,
            ctx,
            status="final",
            category=[category("survey", "Survey")],
            code={
                "coding": [_own_code(self.kind, "gauge_type", record.gauge_type, label)],
                "text": label,
            },
            subject=ctx.ref("patient", record.patient_id),
            focus=focus,
            effectiveDateTime=fhir_datetime(record.recorded_at),
            valueQuantity={"value": record.value, **SCORE_UNIT},
            note=notes_out(record.notes),
        )

    @tolerant
    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        require_type(resource, "Observation")
        concept = resource.get("code")
        gauge_type = code_in(concept, extension_url(self.kind, "gauge_type"))
        gauge_type = gauge_type or choice_of(concept_text(concept), GaugeType.choices)
        gauge_type = gauge_type or concept_text(concept)
        if not gauge_type:
            raise CannotImport("the score names no gauge type (code)")
        quantity = resource.get("valueQuantity")
        value = (
            number(quantity.get("value"), "valueQuantity") if isinstance(quantity, dict) else None
        )
        if value is None:
            value = number(resource.get("valueInteger"), "valueInteger")
        if value is None:
            raise CannotImport("the score has no value (valueQuantity)")
        parsed = Parsed()
        extras = self.read_extras(resource)
        parsed.fields = {
            "gauge_type": gauge_type,
            "value": value,
            "notes": notes_in(resource),
            **{k: v for k, v in extras.items() if v is not None},
        }
        moment = parse_datetime(_effective(resource), "effective")
        parsed.fields["recorded_at"] = moment or timezone.now()
        parsed.refer("medication", reference_of_type(resource.get("focus"), "MedicationStatement"))
        return parsed


MAPS = [
    SymptomMap(),
    SymptomOccurrenceMap(),
    GaugeMap(),
]
