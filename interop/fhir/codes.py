"""Code systems, code tables and small value helpers shared by the observation, family-history
and document maps (interop/fhir/maps/{observations,family,documents}.py).

Tables are facts (LOINC codes of vital signs, UCUM units, HL7 code systems); the helpers write
and read the FHIR value types those maps use, raising CannotImport on values they cannot read.
This module imports nothing from interop.fhir.maps at load time (the maps import it).
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time
from typing import Any, NoReturn

from django.utils import timezone


def fail(reason: str) -> NoReturn:
    """Raises CannotImport (imported here: the maps package imports this module, and this
    module may be imported first)."""
    from interop.fhir.maps.base import CannotImport

    raise CannotImport(reason)


def tolerant(to_fields):
    """Wraps a map's to_fields: a resource of the wrong shape (a list where an object belongs,
    text where a number does) is refused with the reason instead of raising something else."""

    @functools.wraps(to_fields)
    def read(self, resource):
        try:
            return to_fields(self, resource)
        except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
            fail(f"the resource could not be read ({type(exc).__name__}: {exc})")

    return read


LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"  # diagnostic service sections
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ADMINISTRATIVE_GENDER = "http://hl7.org/fhir/administrative-gender"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
ICD10 = "http://hl7.org/fhir/sid/icd-10"

_LOINC_CODE = re.compile(r"^\d{1,7}-\d$")


def looks_like_loinc(code: str) -> bool:
    return bool(_LOINC_CODE.match(code or ""))


# --- vital signs ---------------------------------------------------------------------------

VITALS_PANEL = "85353-1"
VITALS_PANEL_DISPLAY = (
    "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel"
)


class VitalCode:
    """One Vitals column as a LOINC-coded component with its UCUM unit.

    `unit` is the UCUM code of the unit the column is stored in (records/models/vitals.py);
    `aliases` are further LOINC codes read as this column on import.
    """

    def __init__(self, field, code, display, unit, unit_text, *, integer=False, aliases=()):
        self.field = field
        self.code = code
        self.display = display
        self.unit = unit
        self.unit_text = unit_text
        self.integer = integer
        self.aliases = aliases


VITAL_CODES: tuple[VitalCode, ...] = (
    VitalCode("systolic_bp", "8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg", integer=True),
    VitalCode("diastolic_bp", "8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg", integer=True),
    VitalCode(
        "heart_rate",
        "8867-4",
        "Heart rate",
        "/min",
        "beats/minute",
        integer=True,
        aliases=("8893-0", "8889-8"),
    ),
    VitalCode("temperature", "8310-5", "Body temperature", "[degF]", "°F", aliases=("8331-1",)),
    VitalCode("weight", "29463-7", "Body weight", "[lb_av]", "lb", aliases=("3141-9",)),
    VitalCode("height", "8302-2", "Body height", "[in_i]", "in", aliases=("8306-3", "3137-7")),
    VitalCode("bmi", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2"),
    VitalCode(
        "oxygen_saturation",
        "2708-6",
        "Oxygen saturation in Arterial blood",
        "%",
        "%",
        aliases=("59408-5"),
    ),
    VitalCode(
        "respiratory_rate", "9279-1", "Respiratory rate", "/min", "breaths/minute", integer=True
    ),
    VitalCode(
        "blood_glucose",
        "2339-0",
        "Glucose [Mass/volume] in Blood",
        "mg/dL",
        "mg/dL",
        aliases=("2345-7", "41653-7", "1558-6", "15074-8", "14749-6"),
    ),
    VitalCode(
        "a1c",
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "%",
        "%",
        aliases=("17856-6", "4549-2"),
    ),
    VitalCode(
        "pain_scale",
        "72514-3",
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        "{score}",
        "{score}",
        integer=True,
    ),
)
VITAL_BY_FIELD = {v.field: v for v in VITAL_CODES}
VITAL_BY_LOINC = {code: v for v in VITAL_CODES for code in (v.code, *v.aliases)}
# The second code written for SpO2: pulse oximetry, what home devices measure.
SPO2_PULSE_OXIMETRY = "59408-5"

# Other systems' units of a vital, as factor (and offset) to our stored unit. Keys are UCUM
# codes and the plain spellings people write in Quantity.unit, compared lower-cased.
_SAME = (1.0, 0.0)
VITAL_UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "weight": {
        "[lb_av]": _SAME,
        "lb": _SAME,
        "lbs": _SAME,
        "pound": _SAME,
        "pounds": _SAME,
        "kg": (1 / 0.45359237, 0.0),
        "g": (1 / 453.59237, 0.0),
        "[oz_av]": (1 / 16, 0.0),
    },
    "height": {
        "[in_i]": _SAME,
        "in": _SAME,
        "inch": _SAME,
        "inches": _SAME,
        "cm": (1 / 2.54, 0.0),
        "m": (1 / 0.0254, 0.0),
        "mm": (1 / 25.4, 0.0),
        "[ft_i]": (12.0, 0.0),
    },
    "temperature": {
        "[degf]": _SAME,
        "degf": _SAME,
        "°f": _SAME,
        "f": _SAME,
        "cel": (9 / 5, 32.0),
        "°c": (9 / 5, 32.0),
        "c": (9 / 5, 32.0),
        "degc": (9 / 5, 32.0),
        "k": (9 / 5, -459.67),
    },
    "systolic_bp": {"mm[hg]": _SAME, "mmhg": _SAME, "kpa": (7.50062, 0.0)},
    "diastolic_bp": {"mm[hg]": _SAME, "mmhg": _SAME, "kpa": (7.50062, 0.0)},
    "heart_rate": {"/min": _SAME, "{beats}/min": _SAME, "bpm": _SAME, "beats/minute": _SAME},
    "respiratory_rate": {
        "/min": _SAME,
        "{breaths}/min": _SAME,
        "breaths/min": _SAME,
        "breaths/minute": _SAME,
    },
    "oxygen_saturation": {"%": _SAME},
    "a1c": {"%": _SAME},
    "blood_glucose": {"mg/dl": _SAME, "mmol/l": (18.0156, 0.0)},
    "bmi": {"kg/m2": _SAME, "kg/m^2": _SAME, "kg/m²": _SAME},
    "pain_scale": {"{score}": _SAME, "": _SAME, "1": _SAME, "{#}": _SAME},
}


def to_stored_unit(field: str, value: float, quantity: dict[str, Any]) -> float | None:
    """`value` of `quantity` in the unit the column is stored in; None for a unit we cannot
    convert. A quantity without a unit is taken as ours (only for unitless columns, pain)."""
    units = VITAL_UNITS[field]
    for spelled in (quantity.get("code"), quantity.get("unit")):
        if spelled is None:
            continue
        factor = units.get(str(spelled).strip().lower())
        if factor is not None:
            return value * factor[0] + factor[1]
    if quantity.get("code") is None and quantity.get("unit") is None and "" in units:
        return value
    return None


# --- lab values -----------------------------------------------------------------------------

# Interpretation (lab result's labs_result, component's status) ↔ v3 ObservationInterpretation.
INTERPRETATION_CODES = {
    "normal": ("N", "Normal"),
    "abnormal": ("A", "Abnormal"),
    "critical": ("AA", "Critical abnormal"),
    "high": ("H", "High"),
    "low": ("L", "Low"),
    "inconclusive": ("IND", "Indeterminate"),
    # "borderline" has no code of its own: written by text only.
}
INTERPRETATION_FROM_CODE = {
    code: value for value, (code, _display) in INTERPRETATION_CODES.items()
} | {
    "HH": "critical",
    "LL": "critical",
    "HU": "high",
    "LU": "low",
    "POS": "abnormal",
    "NEG": "normal",
    "DET": "abnormal",
    "ND": "normal",
    "E": "borderline",
}

# Qualitative results ↔ SNOMED CT qualifier values.
QUALITATIVE_CODES = {
    "positive": ("10828004", "Positive"),
    "negative": ("260385009", "Negative"),
    "detected": ("260373001", "Detected"),
    "undetected": ("260415000", "Not detected"),
}
QUALITATIVE_FROM_CODE = {code: value for value, (code, _d) in QUALITATIVE_CODES.items()}

# A lab result's category ↔ HL7 v2 table 0074 (diagnostic service section), where one exists.
LAB_SECTIONS = {
    "chemistry": "CH",
    "hematology": "HM",
    "microbiology": "MB",
    "immunology": "IMM",
    "genetics": "GE",
    "imaging": "RAD",
    "pathology": "SP",
    "cardiology": "EC",
    "pulmonology": "PF",
    "hearing": "AU",
}
LAB_SECTION_FROM_CODE = {code: value for value, code in LAB_SECTIONS.items()} | {
    "CP": "pathology",
    "SR": "immunology",
    "VR": "microbiology",
    "MCB": "microbiology",
    "MYC": "microbiology",
    "TX": "other",
    "BG": "chemistry",
    "CG": "genetics",
    "CT": "imaging",
    "RUS": "imaging",
    "RX": "imaging",
    "NMR": "imaging",
}

# Units people type → UCUM codes (only where the two differ); a unit not listed is written
# as text only (Quantity.unit) unless it already is a plain UCUM expression.
UCUM_SPELLINGS = {
    "mmhg": "mm[Hg]",
    "bpm": "/min",
    "°f": "[degF]",
    "°c": "Cel",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "in": "[in_i]",
    "iu/l": "[IU]/L",
    "iu/ml": "[IU]/mL",
    "miu/l": "m[IU]/L",
    "miu/ml": "m[IU]/mL",
    "uiu/ml": "u[IU]/mL",
    "µiu/ml": "u[IU]/mL",
    "µmol/l": "umol/L",
    "µg/dl": "ug/dL",
    "µg/l": "ug/L",
    "mcg/dl": "ug/dL",
    "mcg/l": "ug/L",
    "meq/l": "meq/L",
    "x10*9/l": "10*9/L",
    "x10^9/l": "10*9/L",
    "10^9/l": "10*9/L",
    "x10*12/l": "10*12/L",
    "x10^12/l": "10*12/L",
    "10^12/l": "10*12/L",
    "x10*3/ul": "10*3/uL",
    "x10^3/ul": "10*3/uL",
    "10^3/ul": "10*3/uL",
    "k/ul": "10*3/uL",
    "x10*6/ul": "10*6/uL",
    "x10^6/ul": "10*6/uL",
    "10^6/ul": "10*6/uL",
    "m/ul": "10*6/uL",
    "cells/ul": "/uL",
    "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "ml/min/1.73 m2": "mL/min/{1.73_m2}",
}
# Plain UCUM: letters, digits, the UCUM operators and brackets, no spaces or µ.
_PLAIN_UCUM = re.compile(r"^[A-Za-z0-9%/.*\[\]{}_^-]+$")


def ucum_quantity(value, unit: str) -> dict[str, Any]:
    """A Quantity with our unit text kept as written and its UCUM code where we know it."""
    quantity: dict[str, Any] = {}
    if value is not None:
        quantity["value"] = value
    if unit:
        quantity["unit"] = unit
        code = UCUM_SPELLINGS.get(unit.strip().lower())
        if code is None and _PLAIN_UCUM.match(unit) and not unit.startswith("x"):
            code = unit
        if code:
            quantity["system"] = UCUM
            quantity["code"] = code
    return quantity


def quantity_unit(quantity: dict[str, Any]) -> str:
    """The unit of a Quantity as people read it: its text, else its code."""
    return str(quantity.get("unit") or quantity.get("code") or "").strip()


# --- family -----------------------------------------------------------------------------------

RELATIONSHIP_CODES = {
    "father": ("FTH", "father"),
    "mother": ("MTH", "mother"),
    "brother": ("BRO", "brother"),
    "sister": ("SIS", "sister"),
    "paternal_grandfather": ("PGRFTH", "paternal grandfather"),
    "paternal_grandmother": ("PGRMTH", "paternal grandmother"),
    "maternal_grandfather": ("MGRFTH", "maternal grandfather"),
    "maternal_grandmother": ("MGRMTH", "maternal grandmother"),
    "uncle": ("UNCLE", "uncle"),
    "aunt": ("AUNT", "aunt"),
    "cousin": ("COUSN", "cousin"),
    "other": ("FAMMEMB", "family member"),
}
RELATIONSHIP_FROM_CODE = {code: value for value, (code, _d) in RELATIONSHIP_CODES.items()} | {
    "NFTH": "father",
    "NMTH": "mother",
    "NBRO": "brother",
    "NSIS": "sister",
    "HBRO": "brother",
    "HSIS": "sister",
    "TWINBRO": "brother",
    "TWINSIS": "sister",
    "FTWINBRO": "brother",
    "FTWINSIS": "sister",
    "ITWINBRO": "brother",
    "ITWINSIS": "sister",
    "PUNCLE": "uncle",
    "MUNCLE": "uncle",
    "PAUNT": "aunt",
    "MAUNT": "aunt",
    "PCOUSN": "cousin",
    "MCOUSN": "cousin",
}


# --- writing values ----------------------------------------------------------------------------


def coding(system: str | None, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system} if system else {}
    out["code"] = code
    if display:
        out["display"] = display
    return out


def category(code: str, display: str) -> dict[str, Any]:
    return {"coding": [coding(OBSERVATION_CATEGORY, code, display)]}


def fhir_datetime(moment: datetime | None) -> str | None:
    """A dateTime in the facility's time zone (naive values are facility-local already)."""
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return timezone.localtime(moment).isoformat()


def fhir_date(day: date | None) -> str | None:
    return day.isoformat() if day else None


# --- reading values ----------------------------------------------------------------------------


def codings(concept: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def code_in(concept, system: str) -> str | None:
    """The first code of `system` in a CodeableConcept."""
    for item in codings(concept):
        if item.get("system") == system and item.get("code"):
            return str(item["code"])
    return None


def choice_of(text: str, choices) -> str | None:
    """A model choice named by `text` (value or label; case, "-", "_" and spaces ignored)."""
    wanted = _squash(text)
    for value, label in choices:
        if wanted in (_squash(value), _squash(label)):
            return value
    return None


def _squash(text) -> str:
    return re.sub(r"[\s_-]+", "", str(text or "")).lower()


def has_category(resource: dict[str, Any], code: str) -> bool:
    """Whether an Observation is in an observation-category (by code, or by text)."""
    for concept in resource.get("category") or []:
        for item in codings(concept):
            if item.get("code") == code:
                return True
        if isinstance(concept, dict) and _squash(concept.get("text")) == _squash(code):
            return True
    return False


def typed_reference(reference: dict[str, str], resource_type: str) -> dict[str, str]:
    """A Reference that also says what it points to (a urn:uuid does not)."""
    return {**reference, "type": resource_type}


def reference_of_type(values, resource_type: str) -> str | None:
    """The first reference among `values` that points to a `resource_type` (by its `type`, or
    by a relative "Type/id" reference)."""
    for value in values or []:
        ref = value.get("reference") if isinstance(value, dict) else None
        if not isinstance(ref, str) or not ref:
            continue
        if value.get("type") == resource_type or ref.startswith(f"{resource_type}/"):
            return ref
    return None


def parse_date(value, what: str) -> date | None:
    """A FHIR date or dateTime as a calendar day (a dateTime's facility-local day). A year or
    year-month gives its first day."""
    if value in (None, ""):
        return None
    text = str(value)
    try:
        if re.fullmatch(r"\d{4}", text):
            return date(int(text), 1, 1)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return date(int(text[:4]), int(text[5:7]), 1)
        if "T" not in text:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{what}: {text!r} is not a FHIR date")
    if timezone.is_naive(moment):
        return moment.date()
    return timezone.localtime(moment).date()


def parse_datetime(value, what: str) -> datetime | None:
    """A FHIR dateTime as an aware moment; a date alone is taken as facility-local midnight."""
    if value in (None, ""):
        return None
    text = str(value)
    if "T" not in text:
        day = parse_date(text, what)
        return timezone.make_aware(datetime.combine(day, time()))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{what}: {text!r} is not a FHIR dateTime")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def has_time(value) -> bool:
    return isinstance(value, str) and "T" in value


def number(value, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(f"{what}: {value!r} is not a number")
    return value


def require_type(resource: dict[str, Any], resource_type: str) -> None:
    if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
        fail(f"not a {resource_type}")
