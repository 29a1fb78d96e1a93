"""Measured and reported things as Observations: vital signs (one LOINC vital-signs panel per
reading, a component per value), lab results (DiagnosticReport) and their components
(laboratory Observations), symptoms and their occurrences, and gauges (self-rated scores).

Units: vitals are stored in the reference's units (lb, in, °F, mg/dL …) and written with their
UCUM codes; imports from elsewhere are converted into those units (kg → lb, Cel → °F, mmol/L
glucose → mg/dL …); a value in a unit we cannot convert is left out with a warning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from interop.fhir.codes import (
    CONDITION_CLINICAL,
    DATA_ABSENT_REASON,
    INTERPRETATION,
    INTERPRETATION_CODES,
    INTERPRETATION_FROM_CODE,
    LAB_SECTION_FROM_CODE,
    LAB_SECTIONS,
    LOINC,
    OBSERVATION_CATEGORY,
    QUALITATIVE_CODES,
    QUALITATIVE_FROM_CODE,
    SNOMED,
    SPO2_PULSE_OXIMETRY,
    UCUM,
    V2_0074,
    VITAL_BY_LOINC,
    VITAL_CODES,
    VITALS_PANEL,
    VITALS_PANEL_DISPLAY,
    category,
    choice_of,
    code_in,
    coding,
    codings,
    fhir_date,
    fhir_datetime,
    has_category,
    has_time,
    looks_like_loinc,
    number,
    parse_date,
    parse_datetime,
    quantity_unit,
    reference_of_type,
    require_type,
    to_stored_unit,
    tolerant,
    typed_reference,
    ucum_quantity,
)
from interop.fhir.maps.base import (
    CannotImport,
    ExportContext,
    ImportContext,
    Parsed,
    ResourceMap,
    concept_text,
    extension_url,
    notes_in,
    notes_out,
    reference_of,
)
from records.models import (
    MEASURES,
    Gauge,
    GaugeType,
    LabResult,
    LabResultCategory,
    LabResultInterpretation,
    LabResultStatus,
    LabTestComponent,
    LabTestComponentCategory,
    LabTestComponentQualitativeValue,
    LabTestComponentResultType,
    Symptom,
    SymptomOccurrence,
    SymptomOccurrenceSeverity,
    SymptomStatus,
    Vitals,
)
from records.models.symptoms import local_date, local_time

PAIN_SCORE = "72514-3"
SCORE_UNIT = {"unit": "{score}", "system": UCUM, "code": "{score}"}


def _own_code(kind: str, field: str, value: str, label: str) -> dict[str, Any]:
    """A coding in our own code system for a choice field of ours (no FHIR value set fits)."""
    return coding(extension_url(kind, field), value, label)


def _practitioner(record, ctx: ExportContext) -> list[dict[str, str]]:
    if not record.practitioner_id:
        return []
    return [typed_reference(ctx.ref("practitioner", record.practitioner_id), "Practitioner")]


def _effective(resource: dict[str, Any]) -> str | None:
    """The Observation's (or report's) own time: effectiveDateTime, a period's start, else
    effectiveInstant or issued."""
    period = resource.get("effectivePeriod") or {}
    return (
        resource.get("effectiveDateTime")
        or (period.get("start") if isinstance(period, dict) else None)
        or resource.get("effectiveInstant")
        or resource.get("issued")
    )


def _interpretation(value: str, label: str) -> dict[str, Any]:
    found = INTERPRETATION_CODES.get(value)
    out: dict[str, Any] = {"text": label}
    if found:
        out["coding"] = [coding(INTERPRETATION, *found)]
    return out


def _interpretation_in(concepts) -> str:
    concept = concepts[0] if isinstance(concepts, list) and concepts else None
    if not isinstance(concept, dict):
        return ""
    found = choice_of(concept.get("text"), LabResultInterpretation.choices)
    code = code_in(concept, INTERPRETATION) or _unsystematic_code(concept)
    return found or INTERPRETATION_FROM_CODE.get(code or "", "")


def _unsystematic_code(concept) -> str | None:
    """The code of the first coding without a system (hand-written resources leave it out)."""
    return next((c.get("code") for c in codings(concept) if not c.get("system")), None)


class ObservationMap(ResourceMap):
    resource_type = "Observation"

    def claims_foreign(self, resource: dict[str, Any]) -> bool:
        return False


# --- vitals -------------------------------------------------------------------------------------


class VitalsMap(ObservationMap):
    kind = "vital"
    model = Vitals
    extras = ("location", "glucose_context", "import_source")

    def to_resource(self, record: Vitals, ctx: ExportContext) -> dict[str, Any]:
        components = []
        for vital in VITAL_CODES:
            value = getattr(record, vital.field)
            if value is None:
                continue
            codes = [coding(LOINC, vital.code, vital.display)]
            if vital.field == "oxygen_saturation":
                codes.append(coding(LOINC, SPO2_PULSE_OXIMETRY))
            quantity = {"value": value, "unit": vital.unit_text, "system": UCUM}
            components.append(
                {
                    "code": {"coding": codes, "text": MEASURES[vital.field].label},
                    "valueQuantity": {**quantity, "code": vital.unit},
                }
            )
        return self.base(
            record,
            ctx,
            status="final",
            category=[category("vital-signs", "Vital Signs")],
            code={"coding": [coding(LOINC, VITALS_PANEL, VITALS_PANEL_DISPLAY)], "text": "Vitals"},
            subject=ctx.ref("patient", record.patient_id),
            effectiveDateTime=fhir_datetime(record.recorded_date),
            performer=_practitioner(record, ctx),
            device={"display": record.device_used} if record.device_used else None,
            note=notes_out(record.notes),
            component=components,
        )

    def claims_foreign(self, resource: dict[str, Any]) -> bool:
        if any(has_category(resource, c) for c in ("laboratory", "survey", "social-history")):
            return False
        if has_category(resource, "vital-signs"):
            return True
        return any(self._vital_of(concept) for concept, _element in self._measured(resource))

    @staticmethod
    def _measured(resource: dict[str, Any]):
        """(code, element holding the value) of the resource itself and of its components."""
        yield resource.get("code"), resource
        for component in resource.get("component") or []:
            if isinstance(component, dict):
                yield component.get("code"), component

    @staticmethod
    def _vital_of(concept):
        for item in codings(concept):
            if item.get("system") in (LOINC, None) and item.get("code") in VITAL_BY_LOINC:
                return VITAL_BY_LOINC[item["code"]]
        return None

    @tolerant
    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        require_type(resource, "Observation")
        parsed = Parsed()
        fields: dict[str, Any] = {}
        for concept, element in self._measured(resource):
            vital = self._vital_of(concept)
            if vital is None:
                if element is not resource:
                    parsed.warnings.append(f"Left out {concept_text(concept) or 'a component'}.")
                continue
            value = self._value(vital, element, parsed)
            if value is not None:
                fields[vital.field] = value
                if any(c.get("code") == "1558-6" for c in codings(concept)):  # fasting glucose
                    fields.setdefault("glucose_context", "fasting")
        if not fields and resource.get("hasMember"):
            raise CannotImport(
                "a panel whose values are in hasMember: its member Observations are read "
                "on their own"
            )
        if not fields:
            codes = ", ".join(c.get("code", "?") for c in codings(resource.get("code")))
            raise CannotImport(
                f"no vital sign value we keep (code {codes or concept_text(resource.get('code'))})"
            )
        moment = parse_datetime(_effective(resource), "effective")
        if moment is None:
            raise CannotImport("the reading has no date (effectiveDateTime)")
        extras = self.read_extras(resource)
        if not extras["glucose_context"]:
            extras["glucose_context"] = fields.pop("glucose_context", "")
        fields.pop("glucose_context", None)
        parsed.fields = {
            **{v.field: None for v in VITAL_CODES},
            **fields,
            **extras,
            "recorded_date": moment,
            "device_used": str((resource.get("device") or {}).get("display") or "")[:100],
            "notes": notes_in(resource),
        }
        practitioner = reference_of_type(resource.get("performer"), "Practitioner")
        if practitioner:
            parsed.references["practitioner"] = practitioner
        return parsed

    @staticmethod
    def _value(vital, element: dict[str, Any], parsed: Parsed):
        quantity = element.get("valueQuantity")
        if quantity is None and "valueInteger" in element:
            quantity = {"value": element["valueInteger"], "code": vital.unit}
        if not isinstance(quantity, dict) or quantity.get("value") is None:
            return None
        value = number(quantity.get("value"), vital.field)
        stored = to_stored_unit(vital.field, value, quantity)
        if stored is None:
            parsed.warnings.append(
                f"Left out {vital.field}: unit {quantity_unit(quantity)!r} is not one we convert."
            )
            return None
        if vital.integer:
            return round(stored)
        return stored if stored == value else round(stored, 2)


# --- lab results --------------------------------------------------------------------------------

LAB_STATUS = {
    LabResultStatus.ORDERED: "registered",
    LabResultStatus.IN_PROGRESS: "partial",
    LabResultStatus.COMPLETED: "final",
    LabResultStatus.CANCELLED: "cancelled",
}
LAB_STATUS_FROM_FHIR = {
    "registered": LabResultStatus.ORDERED,
    "partial": LabResultStatus.IN_PROGRESS,
    "preliminary": LabResultStatus.IN_PROGRESS,
    "final": LabResultStatus.COMPLETED,
    "amended": LabResultStatus.COMPLETED,
    "corrected": LabResultStatus.COMPLETED,
    "appended": LabResultStatus.COMPLETED,
    "cancelled": LabResultStatus.CANCELLED,
    "entered-in-error": LabResultStatus.CANCELLED,
}


def _test_code(code: str, name: str) -> dict[str, Any]:
    """The test as a CodeableConcept: its name, and its code as LOINC when it is one; any other
    code (CPT, the lab's own) as a coding without a system."""
    if not code:
        return {"text": name}
    return {"coding": [coding(LOINC if looks_like_loinc(code) else None, code, name)], "text": name}


def _test_code_in(concept) -> str:
    code = code_in(concept, LOINC) or _unsystematic_code(concept)
    return str(code or "").strip().upper()[:50]


class LabResultMap(ResourceMap):
    kind = "lab_result"
    model = LabResult
    resource_type = "DiagnosticReport"
    extras = ("test_type", "ordered_date")

    def queryset(self, queryset):
        components = LabTestComponent.objects.only("id", "lab_result_id", "display_order")
        return queryset.prefetch_related(Prefetch("components", queryset=components))

    def to_resource(self, record: LabResult, ctx: ExportContext) -> dict[str, Any]:
        categories = [{"coding": [coding(V2_0074, "LAB", "Laboratory")]}]
        if record.test_category:
            label = record.get_test_category_display()
            section = LAB_SECTIONS.get(record.test_category)
            codes = [coding(V2_0074, section)] if section else []
            codes.append(_own_code(self.kind, "test_category", record.test_category, label))
            categories.append({"coding": codes, "text": label})
        performers = []
        if record.facility:
            performers.append({"type": "Organization", "display": record.facility})
        performers += _practitioner(record, ctx)
        results = [
            typed_reference(ctx.ref("lab_test_component", c.pk), "Observation")
            for c in record.components.all()
        ]
        return self.base(
            record,
            ctx,
            status=LAB_STATUS.get(record.status, "unknown"),
            category=categories,
            code=_test_code(record.test_code, record.test_name),
            subject=ctx.ref("patient", record.patient_id),
            effectiveDateTime=fhir_date(record.completed_date),
            performer=performers,
            result=results,
            conclusion=record.notes,
            conclusionCode=(
                [_interpretation(record.labs_result, record.get_labs_result_display())]
                if record.labs_result
                else []
            ),
        )

    @tolerant
    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        require_type(resource, "DiagnosticReport")
        name = concept_text(resource.get("code"))
        if len(name) < 2:
            raise CannotImport("the report names no test (code.text)")
        status = LAB_STATUS_FROM_FHIR.get(resource.get("status"))
        parsed = Parsed()
        if status is None:
            status = LabResultStatus.COMPLETED if resource.get("result") else "ordered"
            parsed.warnings.append(f"Status {resource.get('status')!r} read as {status}.")
        performers = [p for p in resource.get("performer") or [] if isinstance(p, dict)]
        facility = next(
            (
                p["display"]
                for p in performers
                if p.get("display")
                and p.get("type") != "Practitioner"
                and not str(p.get("reference", "")).startswith("Practitioner/")
            ),
            "",
        )
        period = resource.get("effectivePeriod") or {}
        completed = (
            resource.get("effectiveDateTime")
            or (period.get("end") or period.get("start") if isinstance(period, dict) else None)
            or resource.get("issued")
        )
        parsed.fields = {
            "test_name": name[:200],
            "test_code": _test_code_in(resource.get("code")),
            "test_category": self._category_in(resource.get("category")),
            "facility": str(facility)[:300],
            "status": status,
            "labs_result": _interpretation_in(resource.get("conclusionCode")),
            "completed_date": parse_date(completed, "effectiveDateTime"),
            "notes": str(resource.get("conclusion") or ""),
            **self.read_extras(resource),
        }
        practitioner = reference_of_type(performers, "Practitioner")
        if practitioner:
            parsed.references["practitioner"] = practitioner
        for result in resource.get("result") or []:
            reference = reference_of(result)
            if reference:
                parsed.owns.append((reference, "lab_result"))
        return parsed

    def _category_in(self, concepts) -> str:
        concepts = [c for c in concepts or [] if isinstance(c, dict)]
        for concept in concepts:
            ours = code_in(concept, extension_url(self.kind, "test_category"))
            if ours in LabResultCategory.values:
                return ours
        for concept in concepts:
            section = LAB_SECTION_FROM_CODE.get(code_in(concept, V2_0074) or "")
            if section:
                return section
        for concept in concepts:
            found = choice_of(concept_text(concept), LabResultCategory.choices)
            if found:
                return found
        return ""


QUALITATIVE = LabTestComponentQualitativeValue
RESULT_TYPE = LabTestComponentResultType


class LabTestComponentMap(ObservationMap):
    """A lab result's measured value. Its lab result is the DiagnosticReport listing it in
    `result` (Parsed.owns of that report): a component whose report is not imported with it
    cannot be created (its lab_result stays empty and the row fails validation)."""

    kind = "lab_test_component"
    model = LabTestComponent
    extras = ("abbreviation", "display_order")

    def queryset(self, queryset):
        return queryset.select_related("lab_result")

    def to_resource(self, record: LabTestComponent, ctx: ExportContext) -> dict[str, Any]:
        categories = [category("laboratory", "Laboratory")]
        if record.category:
            label = record.get_category_display()
            own = _own_code(self.kind, "category", record.category, label)
            categories.append({"coding": [own], "text": label})
        value: dict[str, Any] = {}
        extensions = []
        if record.result_type == RESULT_TYPE.QUALITATIVE and record.qualitative_value:
            code, display = QUALITATIVE_CODES[record.qualitative_value]
            value["valueCodeableConcept"] = {
                "coding": [coding(SNOMED, code, display)],
                "text": record.get_qualitative_value_display(),
            }
        elif record.result_type == RESULT_TYPE.TEXTUAL:
            value["valueString"] = record.textual_value
        elif record.value is not None:
            value["valueQuantity"] = ucum_quantity(record.value, record.unit)
        else:
            # A panel row still waiting for its value (the unit is kept for when it comes).
            value["dataAbsentReason"] = {"coding": [coding(DATA_ABSENT_REASON, "temp-unknown")]}
            extensions.append(self.ext("unit", record.unit))
        ranges = {}
        if record.ref_range_min is not None:
            ranges["low"] = ucum_quantity(record.ref_range_min, record.unit)
        if record.ref_range_max is not None:
            ranges["high"] = ucum_quantity(record.ref_range_max, record.unit)
        if record.ref_range_text:
            ranges["text"] = record.ref_range_text
        status = "registered" if "dataAbsentReason" in value else "final"
        return self.base(
            record,
            ctx,
            extension=extensions,
            status=status,
            category=categories,
            code=_test_code(record.test_code, record.test_name),
            subject=ctx.ref("patient", record.patient_id),
            effectiveDateTime=fhir_date(record.lab_result.completed_date),
            **value,
            interpretation=(
                [_interpretation(record.status, record.get_status_display())]
                if record.status
                else []
            ),
            note=notes_out(record.notes),
            referenceRange=[ranges] if ranges else [],
        )

    def before_save(self, instance, parsed: Parsed, ictx: ImportContext) -> None:
        if instance.lab_result_id is None:
            raise CannotImport(
                "a lab value is imported with the DiagnosticReport that lists it in `result`; "
                "no report of this bundle does"
            )

    def claims_foreign(self, resource: dict[str, Any]) -> bool:
        if has_category(resource, "laboratory"):
            return True
        # An Observation with no category and a measured value is most likely a lab value.
        return (
            not resource.get("category")
            and "valueQuantity" in resource
            and not any(
                VitalsMap._vital_of(concept) for concept, _e in VitalsMap._measured(resource)
            )
        )

    @tolerant
    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        require_type(resource, "Observation")
        name = concept_text(resource.get("code"))
        if not name:
            raise CannotImport("the lab value names no test (code.text)")
        parsed = Parsed()
        fields = {
            "test_name": name[:200],
            "test_code": _test_code_in(resource.get("code")),
            "result_type": RESULT_TYPE.QUANTITATIVE,
            "value": None,
            "unit": "",
            "qualitative_value": "",
            "textual_value": "",
            "ref_range_min": None,
            "ref_range_max": None,
            "ref_range_text": "",
            "status": _interpretation_in(resource.get("interpretation")),
            "category": self._category_in(resource.get("category")),
            "notes": notes_in(resource),
            **self.read_extras(resource),
        }
        fields.update(self._value_in(resource, parsed))
        ranges = (resource.get("referenceRange") or [{}])[0]
        if isinstance(ranges, dict):
            fields["ref_range_text"] = str(ranges.get("text") or "")[:500]
            if fields["result_type"] == RESULT_TYPE.QUANTITATIVE:
                for end, field in (("low", "ref_range_min"), ("high", "ref_range_max")):
                    quantity = ranges.get(end)
                    if isinstance(quantity, dict):
                        fields[field] = number(quantity.get("value"), f"referenceRange.{end}")
        parsed.fields = fields
        return parsed

    def _value_in(self, resource: dict[str, Any], parsed: Parsed) -> dict[str, Any]:
        if isinstance(resource.get("valueQuantity"), dict):
            quantity = resource["valueQuantity"]
            value = number(quantity.get("value"), "valueQuantity")
            unit = quantity_unit(quantity)[:50]
            if value is not None and not unit:
                parsed.warnings.append("A value without a unit is kept as text.")
                return {"result_type": RESULT_TYPE.TEXTUAL, "textual_value": f"{value:g}"}
            return {"value": value, "unit": unit}
        if isinstance(resource.get("valueCodeableConcept"), dict):
            concept = resource["valueCodeableConcept"]
            found = choice_of(concept_text(concept), QUALITATIVE.choices)
            found = found or QUALITATIVE_FROM_CODE.get(code_in(concept, SNOMED) or "")
            if found:
                return {"result_type": RESULT_TYPE.QUALITATIVE, "qualitative_value": found}
            return {"result_type": RESULT_TYPE.TEXTUAL, "textual_value": concept_text(concept)}
        for key in ("valueString", "valueInteger", "valueBoolean"):
            if resource.get(key) is not None:
                text = str(resource[key]).lower() if key == "valueBoolean" else str(resource[key])
                return {"result_type": RESULT_TYPE.TEXTUAL, "textual_value": text}
        if any(key.startswith("value") for key in resource):
            parsed.warnings.append("A value of a kind we do not keep was left out.")
        unit = self.ext_value(resource, "unit")
        return {"unit": str(unit)[:50]} if unit else {}

    def _category_in(self, concepts) -> str:
        for concept in concepts or []:
            ours = code_in(concept, extension_url(self.kind, "category"))
            found = ours or choice_of(concept_text(concept), LabTestComponentCategory.choices)
            if found in LabTestComponentCategory.values:
                return found
        return ""


# --- symptoms -----------------------------------------------------------------------------------

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
        medication = reference_of_type(resource.get("focus"), "MedicationStatement")
        if medication:
            parsed.references["medication"] = medication
        return parsed


MAPS = [
    VitalsMap(),
    LabResultMap(),
    LabTestComponentMap(),
    SymptomMap(),
    SymptomOccurrenceMap(),
    GaugeMap(),
]
