"""The observation maps (vitals, lab results and components, symptoms and occurrences, gauges):
every resource validates as FHIR R4, reads back into the same field values, and a row made
from it exports the same resource; resources from elsewhere read sensibly; bad ones are
refused with a reason."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time

import pytest
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from interop.fhir.maps.base import CannotImport, ExportContext
from interop.fhir.maps.labs import LabResultMap, LabTestComponentMap
from interop.fhir.maps.observations import VitalsMap
from interop.fhir.maps.symptoms import GaugeMap, SymptomMap, SymptomOccurrenceMap
from records.models import LabTestComponent
from records.tests.factories import (
    GaugeFactory,
    LabResultFactory,
    LabTestComponentFactory,
    MedicationFactory,
    PractitionerFactory,
    SymptomFactory,
    SymptomOccurrenceFactory,
    VitalsFactory,
)

pytestmark = pytest.mark.django_db

IGNORED = ("id", "identifier", "meta")


@pytest.fixture
def ctx():
    return ExportContext(
        system=f"urn:uuid:{uuid.uuid4()}", base_url="http://testserver", namespace=uuid.uuid4()
    )


def validated(resource: dict) -> dict:
    """The resource as it travels (JSON), after checking it is valid FHIR R4."""
    data = json.loads(json.dumps(resource))
    get_fhir_model_class(data["resourceType"]).model_validate(data)
    return data


def exported(fmap, record, ctx) -> dict:
    row = fmap.queryset(fmap.model.objects.filter(pk=record.pk)).get()
    return validated(fmap.to_resource(row, ctx))


def same_resource(fmap, record, ctx, targets=(), *, skip=()) -> tuple[dict, object]:
    """Exports `record`, reads it back, saves a copy of the same patient, exports the copy
    and checks the two resources agree (but for ids, identifiers, meta and `skip`).
    `targets`: rows the references may point at."""
    resource = exported(fmap, record, ctx)
    parsed = fmap.to_fields(resource)
    by_reference = {ctx.ref(t.kind_name, t.pk)["reference"]: t for t in targets}
    values = dict(parsed.fields)
    for field, reference in parsed.references.items():
        values[field] = by_reference[reference]
    copy = fmap.model(patient=record.patient, **values)
    if hasattr(record, "tags"):
        copy.tags = record.tags  # read back by the importer, from meta.tag
    copy.full_clean()
    copy.save()
    again = exported(fmap, copy, ctx)
    for key in (*IGNORED, *skip):
        resource.pop(key, None)
        again.pop(key, None)
    assert again == resource
    return resource, parsed


def carried(record, parsed, *names):
    for name in names:
        assert parsed.fields[name] == getattr(record, name), name


def named(row, kind):
    row.kind_name = kind
    return row


# --- vitals -----------------------------------------------------------------------------------


def test_vitals_panel_with_every_value(ctx):
    practitioner = named(PractitionerFactory(), "practitioner")
    vitals = VitalsFactory(
        systolic_bp=128,
        diastolic_bp=82,
        heart_rate=64,
        temperature=98.6,
        weight=172.4,
        height=70.5,
        oxygen_saturation=97.0,
        respiratory_rate=14,
        blood_glucose=104.0,
        glucose_context="after_meal",
        a1c=5.6,
        pain_scale=2,
        location="Home",
        device_used="Omron M7",
        notes="Morning reading",
        practitioner=practitioner,
    )
    resource, parsed = same_resource(VitalsMap(), vitals, ctx, [practitioner])
    assert resource["code"]["coding"][0]["code"] == "85353-1"
    assert resource["category"][0]["coding"][0]["code"] == "vital-signs"
    units = {
        c["code"]["coding"][0]["code"]: c["valueQuantity"]["code"] for c in resource["component"]
    }
    assert units == {
        "8480-6": "mm[Hg]",
        "8462-4": "mm[Hg]",
        "8867-4": "/min",
        "8310-5": "[degF]",
        "29463-7": "[lb_av]",
        "8302-2": "[in_i]",
        "39156-5": "kg/m2",
        "2708-6": "%",
        "9279-1": "/min",
        "2339-0": "mg/dL",
        "4548-4": "%",
        "72514-3": "{score}",
    }
    assert resource["performer"][0]["type"] == "Practitioner"
    carried(
        vitals,
        parsed,
        "systolic_bp",
        "diastolic_bp",
        "heart_rate",
        "temperature",
        "weight",
        "height",
        "bmi",
        "oxygen_saturation",
        "respiratory_rate",
        "blood_glucose",
        "glucose_context",
        "a1c",
        "pain_scale",
        "location",
        "device_used",
        "notes",
        "recorded_date",
    )


def test_vitals_with_one_value_and_import_source(ctx):
    vitals = VitalsFactory(
        systolic_bp=None, diastolic_bp=None, heart_rate=None, blood_glucose=140.0
    )
    vitals.import_source = "dexcom_clarity"
    vitals.save()
    resource, parsed = same_resource(VitalsMap(), vitals, ctx)
    assert len(resource["component"]) == 1
    assert parsed.fields["import_source"] == "dexcom_clarity"
    assert parsed.fields["heart_rate"] is None


def test_foreign_heart_rate_becomes_a_reading():
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "effectiveDateTime": "2024-03-01T08:30:00Z",
        "valueQuantity": {"value": 71, "unit": "beats/minute", "code": "/min"},
    }
    fmap = VitalsMap()
    assert fmap.claims(resource)
    parsed = fmap.to_fields(resource)
    assert parsed.fields["heart_rate"] == 71
    assert parsed.fields["weight"] is None
    assert parsed.fields["recorded_date"] == datetime(2024, 3, 1, 8, 30, tzinfo=UTC)


def test_foreign_metric_vitals_are_converted():
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Blood pressure panel", "coding": [{"code": "85354-9"}]},
        "effectiveDateTime": "2024-03-01",
        "component": [
            {
                "code": {"coding": [{"code": "29463-7"}]},
                "valueQuantity": {"value": 80, "code": "kg"},
            },
            {
                "code": {"coding": [{"code": "8310-5"}]},
                "valueQuantity": {"value": 37, "unit": "°C"},
            },
            {
                "code": {"coding": [{"code": "8302-2"}]},
                "valueQuantity": {"value": 180, "code": "cm"},
            },
            {
                "code": {"coding": [{"code": "1558-6"}]},
                "valueQuantity": {"value": 5.5, "code": "mmol/L"},
            },
            {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 3, "code": "ft"}},
            {"code": {"text": "Head circumference"}, "valueQuantity": {"value": 50}},
        ],
    }
    fmap = VitalsMap()
    assert fmap.claims(resource)
    parsed = fmap.to_fields(resource)
    assert parsed.fields["weight"] == pytest.approx(176.37, abs=0.01)
    assert parsed.fields["temperature"] == pytest.approx(98.6)
    assert parsed.fields["height"] == pytest.approx(70.87, abs=0.01)
    assert parsed.fields["blood_glucose"] == pytest.approx(99.09, abs=0.01)
    assert parsed.fields["glucose_context"] == "fasting"
    assert parsed.fields["systolic_bp"] is None
    assert any("ft" in w for w in parsed.warnings)
    assert any("Head circumference" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ({"resourceType": "Observation", "code": {"text": "Weight"}}, "no vital sign"),
        (
            {
                "resourceType": "Observation",
                "code": {"coding": [{"code": "85353-1"}]},
                "hasMember": [{"reference": "Observation/hr"}],
            },
            "member Observations are read on their own",
        ),
        (
            {
                "resourceType": "Observation",
                "code": {"coding": [{"code": "8867-4"}]},
                "valueQuantity": {"value": 70, "code": "/min"},
            },
            "no date",
        ),
        (
            {
                "resourceType": "Observation",
                "code": {"coding": [{"code": "8867-4"}]},
                "valueQuantity": {"value": "seventy", "code": "/min"},
            },
            "not a number",
        ),
        (
            {
                "resourceType": "Observation",
                "code": {"coding": [{"code": "8867-4"}]},
                "effectiveDateTime": "yesterday",
                "valueQuantity": {"value": 70, "code": "/min"},
            },
            "not a FHIR date",
        ),
        ({"resourceType": "Condition"}, "not a Observation"),
    ],
)
def test_bad_vitals_are_refused_with_a_reason(resource, reason):
    with pytest.raises(CannotImport, match=reason):
        VitalsMap().to_fields(resource)


# --- lab results and components ----------------------------------------------------------------


def test_lab_result_with_components(ctx):
    practitioner = named(PractitionerFactory(), "practitioner")
    result = LabResultFactory(
        test_name="Complete blood count",
        test_code="58410-2",
        test_category="hematology",
        test_type="routine",
        facility="Quest Diagnostics",
        status="completed",
        labs_result="abnormal",
        ordered_date=date(2025, 1, 2),
        completed_date=date(2025, 1, 4),
        notes="Repeat in 3 months",
        practitioner=practitioner,
        tags=["annual", "blood"],
    )
    first = LabTestComponentFactory(patient=result.patient, lab_result=result, display_order=2)
    second = LabTestComponentFactory(patient=result.patient, lab_result=result, display_order=1)
    resource, parsed = same_resource(LabResultMap(), result, ctx, [practitioner], skip=("result",))
    assert resource["status"] == "final"
    assert {"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "HM"} in resource[
        "category"
    ][1]["coding"]
    assert resource["code"]["coding"][0]["system"] == "http://loinc.org"
    assert resource["conclusionCode"][0]["coding"][0]["code"] == "A"
    owned = [ctx.ref("lab_test_component", c.pk)["reference"] for c in (second, first)]
    assert parsed.owns == [(reference, "lab_result") for reference in owned]
    carried(
        result,
        parsed,
        "test_name",
        "test_code",
        "test_category",
        "test_type",
        "facility",
        "status",
        "labs_result",
        "ordered_date",
        "completed_date",
        "notes",
    )
    assert parsed.references == {
        "practitioner": ctx.ref("practitioner", practitioner.pk)["reference"]
    }


@pytest.mark.parametrize("status", ["ordered", "in-progress", "completed", "cancelled"])
def test_lab_result_statuses_survive(ctx, status):
    result = LabResultFactory(status=status, test_code="", test_category="blood work")
    resource, parsed = same_resource(LabResultMap(), result, ctx)
    assert parsed.fields["status"] == status
    assert parsed.fields["test_category"] == "blood work"
    assert "coding" not in resource["code"]


def test_lab_result_without_loinc_keeps_its_code(ctx):
    result = LabResultFactory(test_code="CBC")
    resource, parsed = same_resource(LabResultMap(), result, ctx)
    assert resource["code"]["coding"] == [{"code": "CBC", "display": result.test_name}]
    assert parsed.fields["test_code"] == "CBC"


def _component_copy(ctx, component, **expect):
    result = named(component.lab_result, "lab_result")
    resource = exported(LabTestComponentMap(), component, ctx)
    parsed = LabTestComponentMap().to_fields(resource)
    for name, value in expect.items():
        assert parsed.fields[name] == value, name
    copy = LabTestComponent(patient=component.patient, lab_result=result, **parsed.fields)
    copy.full_clean()
    copy.save()
    again = exported(LabTestComponentMap(), copy, ctx)
    for key in IGNORED:
        resource.pop(key), again.pop(key)
    assert again == resource
    return resource, parsed


def test_quantitative_component(ctx):
    component = LabTestComponentFactory(
        test_name="Hemoglobin",
        abbreviation="HGB",
        test_code="718-7",
        value=11.2,
        unit="g/dL",
        ref_range_min=12.0,
        ref_range_max=16.0,
        ref_range_text="12-16 g/dL",
        category="hematology",
        display_order=3,
        notes="Slightly low",
        lab_result__completed_date=date(2025, 2, 1),
    )
    resource, parsed = _component_copy(
        ctx,
        component,
        test_name="Hemoglobin",
        abbreviation="HGB",
        test_code="718-7",
        value=11.2,
        unit="g/dL",
        ref_range_min=12.0,
        ref_range_max=16.0,
        ref_range_text="12-16 g/dL",
        status="low",
        category="hematology",
        display_order=3,
        notes="Slightly low",
        result_type="quantitative",
    )
    assert resource["valueQuantity"] == {
        "value": 11.2,
        "unit": "g/dL",
        "system": "http://unitsofmeasure.org",
        "code": "g/dL",
    }
    assert resource["interpretation"][0]["coding"][0]["code"] == "L"
    assert resource["effectiveDateTime"] == "2025-02-01"
    assert resource["category"][0]["coding"][0]["code"] == "laboratory"


def test_component_units_in_ucum(ctx):
    component = LabTestComponentFactory(unit="x10*9/L")
    resource, _ = _component_copy(ctx, component, unit="x10*9/L")
    assert resource["valueQuantity"]["code"] == "10*9/L"
    odd = LabTestComponentFactory(unit="cells per high power field")
    resource, _ = _component_copy(ctx, odd, unit="cells per high power field")
    assert "code" not in resource["valueQuantity"]


def test_qualitative_and_textual_and_pending_components(ctx):
    positive = LabTestComponentFactory(
        result_type="qualitative",
        qualitative_value="detected",
        value=None,
        unit="",
        ref_range_min=None,
        ref_range_max=None,
        ref_range_text="Not detected",
    )
    resource, _ = _component_copy(
        ctx, positive, result_type="qualitative", qualitative_value="detected", status="abnormal"
    )
    assert resource["valueCodeableConcept"]["coding"][0]["code"] == "260373001"
    textual = LabTestComponentFactory(
        result_type="textual",
        textual_value="Gram-positive cocci in clusters",
        value=None,
        unit="",
        ref_range_min=None,
        ref_range_max=None,
        status="inconclusive",
    )
    resource, _ = _component_copy(
        ctx, textual, result_type="textual", textual_value="Gram-positive cocci in clusters"
    )
    assert resource["valueString"] == "Gram-positive cocci in clusters"
    pending = LabTestComponentFactory(value=None, unit="mg/dL", ref_range_min=70, ref_range_max=99)
    resource, _ = _component_copy(ctx, pending, value=None, unit="mg/dL", status="")
    assert resource["status"] == "registered"
    assert resource["dataAbsentReason"]["coding"][0]["code"] == "temp-unknown"


def test_foreign_lab_observation_reads_sensibly():
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"text": "Laboratory"}],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]
        },
        "valueQuantity": {"value": 5.4, "unit": "mmol/L"},
        "interpretation": [{"coding": [{"code": "HH"}]}],
        "referenceRange": [{"low": {"value": 3.9}, "high": {"value": 5.5}}],
    }
    fmap = LabTestComponentMap()
    assert fmap.claims(resource)
    assert not VitalsMap().claims(resource)
    fields = fmap.to_fields(resource).fields
    assert fields["test_name"] == "Glucose"
    assert fields["test_code"] == "2345-7"
    assert (fields["value"], fields["unit"]) == (5.4, "mmol/L")
    assert fields["status"] == "critical"
    assert (fields["ref_range_min"], fields["ref_range_max"]) == (3.9, 5.5)
    coded = dict(resource, valueCodeableConcept={"text": "Negative"})
    del coded["valueQuantity"]
    fields = fmap.to_fields(coded).fields
    assert (fields["result_type"], fields["qualitative_value"]) == ("qualitative", "negative")
    assert fields["ref_range_min"] is None  # a qualitative result has no numeric range
    unitless = dict(resource, valueQuantity={"value": 1.015})
    parsed = fmap.to_fields(unitless)
    assert parsed.fields["textual_value"] == "1.015" and parsed.warnings


def test_foreign_report_reads_sensibly():
    resource = {
        "resourceType": "DiagnosticReport",
        "status": "amended",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "CH"}]}
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "24323-8", "display": "CMP"}]},
        "effectivePeriod": {"start": "2024-06-01T09:00:00+02:00"},
        "performer": [{"reference": "Organization/lab", "display": "City Lab"}],
        "result": [{"reference": "Observation/1"}, {"display": "no reference"}],
    }
    parsed = LabResultMap().to_fields(resource)
    assert parsed.fields["test_name"] == "CMP"
    assert parsed.fields["test_category"] == "chemistry"
    assert parsed.fields["status"] == "completed"
    assert parsed.fields["facility"] == "City Lab"
    assert parsed.fields["completed_date"] == date(2024, 6, 1)
    assert parsed.owns == [("Observation/1", "lab_result")]
    assert parsed.references == {}


@pytest.mark.parametrize(
    ("fmap", "resource", "reason"),
    [
        (LabResultMap(), {"resourceType": "DiagnosticReport", "code": {}}, "names no test"),
        (
            LabResultMap(),
            {"resourceType": "DiagnosticReport", "code": {"text": "CBC"}, "issued": "2024-13-01"},
            "not a FHIR date",
        ),
        (LabTestComponentMap(), {"resourceType": "Observation", "code": {}}, "names no test"),
        (
            LabTestComponentMap(),
            {"resourceType": "Observation", "code": {"text": "K"}, "valueQuantity": {"value": "4"}},
            "not a number",
        ),
    ],
)
def test_bad_lab_resources_are_refused(fmap, resource, reason):
    with pytest.raises(CannotImport, match=reason):
        fmap.to_fields(resource)


# --- symptoms -----------------------------------------------------------------------------------


def test_symptom(ctx):
    symptom = SymptomFactory(
        symptom_name="Migraine",
        category="Neurological",
        body_part="Head",
        status="recurring",
        is_chronic=True,
        first_occurrence_date=date(2024, 1, 10),
        last_occurrence_date=date(2024, 3, 2),
        resolved_date=date(2024, 3, 5),
        typical_triggers=["bright light", "red wine"],
        notes="Worse in spring",
        tags=["neuro"],
    )
    resource, parsed = same_resource(SymptomMap(), symptom, ctx)
    assert resource["valueCodeableConcept"]["coding"][0]["code"] == "recurrence"
    assert resource["effectivePeriod"] == {"start": "2024-01-10", "end": "2024-03-02"}
    carried(
        symptom,
        parsed,
        "symptom_name",
        "category",
        "body_part",
        "status",
        "is_chronic",
        "first_occurrence_date",
        "last_occurrence_date",
        "resolved_date",
        "typical_triggers",
        "notes",
    )


def test_symptom_occurrence(ctx):
    symptom = named(SymptomFactory(symptom_name="Headache"), "symptom")
    moment = timezone.make_aware(datetime(2025, 1, 15, 22, 30, 5))
    occurrence = SymptomOccurrenceFactory(
        patient=symptom.patient,
        symptom=symptom,
        occurrence_date=date(2025, 1, 15),
        occurred_at=moment,
        severity="critical",
        pain_scale=8,
        duration_minutes=120,
        duration="2 hours",
        time_of_day="night",
        location="Left temple",
        impact_level="debilitating",
        triggers=["stress"],
        relief_methods=["dark room", "sleep"],
        associated_symptoms=["nausea"],
        resolved_date=date(2025, 1, 16),
        resolved_time=time(1, 15),
        resolution_notes="Slept it off",
        notes="Woke up with it",
    )
    resource, parsed = same_resource(SymptomOccurrenceMap(), occurrence, ctx, [symptom])
    assert resource["derivedFrom"] == [{**ctx.ref("symptom", symptom.pk), "type": "Observation"}]
    assert resource["code"]["text"] == "Headache"
    assert parsed.references == {"symptom": ctx.ref("symptom", symptom.pk)["reference"]}
    carried(
        occurrence,
        parsed,
        "occurrence_date",
        "occurred_at",
        "severity",
        "pain_scale",
        "duration_minutes",
        "duration",
        "time_of_day",
        "location",
        "impact_level",
        "triggers",
        "relief_methods",
        "associated_symptoms",
        "resolved_date",
        "resolved_time",
        "resolution_notes",
        "notes",
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"resolved": True},
        {"resolved_time": time(7, 0)},
    ],
)
def test_symptom_occurrence_dates(ctx, changes):
    symptom = named(SymptomFactory(), "symptom")
    occurrence = SymptomOccurrenceFactory(patient=symptom.patient, symptom=symptom, **changes)
    _, parsed = same_resource(SymptomOccurrenceMap(), occurrence, ctx, [symptom])
    carried(occurrence, parsed, "occurrence_date", "occurred_at", "resolved_date", "resolved_time")


def test_foreign_reported_symptom():
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "418799008"}]},
        "valueCodeableConcept": {"text": "Dizziness"},
        "effectiveDateTime": "2024-05-02T10:00:00Z",
    }
    fmap = SymptomMap()
    assert fmap.claims(resource)
    assert not LabTestComponentMap().claims(resource)
    fields = fmap.to_fields(resource).fields
    assert fields["symptom_name"] == "Dizziness"
    assert fields["status"] == "active"
    assert fields["first_occurrence_date"] == date(2024, 5, 2)


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ({"resourceType": "Observation", "effectiveDateTime": "2024-01-01"}, "names no symptom"),
        (
            {"resourceType": "Observation", "derivedFrom": [{"reference": "urn:uuid:x"}]},
            "no date",
        ),
        (
            {
                "resourceType": "Observation",
                "derivedFrom": [{"reference": "urn:uuid:x"}],
                "effectiveDateTime": "2024-01-01",
                "valueCodeableConcept": {"text": "unbearable"},
            },
            "no severity",
        ),
    ],
)
def test_bad_occurrences_are_refused(resource, reason):
    with pytest.raises(CannotImport, match=reason):
        SymptomOccurrenceMap().to_fields(resource)


def test_symptom_without_name_is_refused():
    with pytest.raises(CannotImport, match="no name"):
        SymptomMap().to_fields({"resourceType": "Observation", "code": {}})


# --- gauges -------------------------------------------------------------------------------------


def test_gauge_about_a_medication(ctx):
    medication = named(MedicationFactory(), "medication")
    gauge = GaugeFactory(
        patient=medication.patient,
        gauge_type="medication_adherence",
        value=4.5,
        scale_min=0,
        scale_max=5,
        notes="Missed one evening dose",
        medication=medication,
    )
    resource, parsed = same_resource(GaugeMap(), gauge, ctx, [medication])
    assert resource["valueQuantity"]["code"] == "{score}"
    assert resource["focus"][0]["type"] == "MedicationStatement"
    carried(gauge, parsed, "gauge_type", "value", "scale_min", "scale_max", "notes", "recorded_at")


def test_gauge_of_own_type(ctx):
    gauge = GaugeFactory(gauge_type="focus_level", value=3)
    resource, parsed = same_resource(GaugeMap(), gauge, ctx)
    assert resource["code"]["text"] == "focus_level"
    assert (parsed.fields["scale_min"], parsed.fields["scale_max"]) == (1, 10)


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ({"resourceType": "Observation", "code": {"text": "mood"}}, "no value"),
        ({"resourceType": "Observation", "valueQuantity": {"value": 3}}, "no gauge type"),
    ],
)
def test_bad_gauges_are_refused(resource, reason):
    with pytest.raises(CannotImport, match=reason):
        GaugeMap().to_fields(resource)


def test_our_kinds_are_told_apart_by_tag(ctx):
    gauge = GaugeFactory()
    resource = exported(GaugeMap(), gauge, ctx)
    assert GaugeMap().claims(resource)
    for other in (VitalsMap(), LabTestComponentMap(), SymptomMap(), SymptomOccurrenceMap()):
        assert not other.claims(resource)


# --- odd shapes ---------------------------------------------------------------------------------


def _mangled(resource: dict):
    """The resource with one element at a time replaced by a value of another shape."""
    for key in resource:
        if key == "resourceType":
            continue
        for odd in ("x", 7, [], ["x"], {"x": 1}, None, [{"reference": 5}]):
            yield key, {**resource, key: odd}


def _rich_resources(ctx):
    from interop.fhir.maps import map_for_kind

    symptom = SymptomFactory(first_occurrence_date=date(2024, 1, 1))
    result = LabResultFactory(patient=symptom.patient, completed_date=date(2024, 2, 2))
    rows = {
        "vital": VitalsFactory(patient=symptom.patient, weight=150.0, notes="n"),
        "lab_result": result,
        "lab_test_component": LabTestComponentFactory(patient=result.patient, lab_result=result),
        "symptom": symptom,
        "symptom_occurrence": SymptomOccurrenceFactory(patient=symptom.patient, symptom=symptom),
        "gauge": GaugeFactory(patient=symptom.patient),
    }
    return [
        (map_for_kind(kind), exported(map_for_kind(kind), row, ctx)) for kind, row in rows.items()
    ]


def test_odd_shapes_are_refused_with_a_reason_or_read(ctx):
    for fmap, resource in _rich_resources(ctx):
        for key, odd in _mangled(resource):
            try:
                fmap.to_fields(odd)
            except CannotImport as exc:
                assert str(exc), (fmap.kind, key)
