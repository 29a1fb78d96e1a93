"""Vital signs as Observations (one LOINC vital-signs panel per reading, a component per
value), and what every Observation map shares (labs.py and symptoms.py build on it).

Units: vitals are stored in the reference's units (lb, in, °F, mg/dL …) and written with their
UCUM codes; imports from elsewhere are converted into those units (kg → lb, Cel → °F, mmol/L
glucose → mg/dL …); a value in a unit we cannot convert is left out with a warning.
"""

from __future__ import annotations

from typing import Any

from interop.fhir.codes import (
    INTERPRETATION,
    INTERPRETATION_CODES,
    INTERPRETATION_FROM_CODE,
    LOINC,
    SPO2_PULSE_OXIMETRY,
    UCUM,
    VITAL_BY_LOINC,
    VITAL_CODES,
    VITALS_PANEL,
    VITALS_PANEL_DISPLAY,
    category,
    choice_of,
    code_in,
    coding,
    codings,
    fhir_datetime,
    has_category,
    number,
    parse_datetime,
    quantity_unit,
    reference_of_type,
    require_type,
    to_stored_unit,
    tolerant,
    typed_reference,
)
from interop.fhir.maps.base import (
    CannotImport,
    ExportContext,
    Parsed,
    ResourceMap,
    concept_text,
    extension_url,
    notes_in,
    notes_out,
)
from records.models import (
    MEASURES,
    LabResultInterpretation,
    Vitals,
)

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
        parsed.refer("practitioner", reference_of_type(resource.get("performer"), "Practitioner"))
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


MAPS = [
    VitalsMap(),
]
