"""Lab results as DiagnosticReport, their components as laboratory Observations listed in
the report's `result`."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from interop.fhir.codes import (
    DATA_ABSENT_REASON,
    LAB_SECTION_FROM_CODE,
    LAB_SECTIONS,
    LOINC,
    QUALITATIVE_CODES,
    QUALITATIVE_FROM_CODE,
    SNOMED,
    V2_0074,
    category,
    choice_of,
    code_in,
    coding,
    fhir_date,
    has_category,
    looks_like_loinc,
    number,
    parse_date,
    quantity_unit,
    reference_of_type,
    require_type,
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
from interop.fhir.maps.observations import (
    ObservationMap,
    VitalsMap,
    _interpretation,
    _interpretation_in,
    _own_code,
    _practitioner,
    _unsystematic_code,
)
from records.models import (
    LabResult,
    LabResultCategory,
    LabResultStatus,
    LabTestComponent,
    LabTestComponentCategory,
    LabTestComponentQualitativeValue,
    LabTestComponentResultType,
)

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
        parsed.refer("practitioner", reference_of_type(performers, "Practitioner"))
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


MAPS = [
    LabResultMap(),
    LabTestComponentMap(),
]
