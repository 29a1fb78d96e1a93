"""The emergency summary as a FHIR document Bundle: validated with fhir.resources (R4B), the
Composition's sections and what they reference, and every reference resolving inside it."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from interop.emergency.fhir import patient_bundle
from records.models import Allergy, Condition, EmergencyContact, Insurance, Medication
from records.tests.factories import (
    AllergyFactory,
    ConditionFactory,
    EmergencyContactFactory,
    InsuranceFactory,
    MedicationFactory,
    PharmacyFactory,
    PractitionerFactory,
)

pytestmark = pytest.mark.django_db

FHIR = "/api/v1/patients/{}/emergency-summary/fhir"
LOINC = "http://loinc.org"


@pytest.fixture
def filled(patient):
    doctor = PractitionerFactory()
    patient.blood_type = "AB+"
    patient.physician = doctor
    patient.save()
    AllergyFactory(patient=patient, allergen="Peanuts", severity="severe", reaction="Hives")
    AllergyFactory(patient=patient, allergen="Latex", status="resolved")
    ConditionFactory(patient=patient, condition_name="Asthma", practitioner=doctor)
    MedicationFactory(
        patient=patient,
        medication_name="Salbutamol",
        dosage="100 mcg",
        frequency="as needed",
        practitioner=doctor,
        pharmacy=PharmacyFactory(),
    )
    MedicationFactory(patient=patient, medication_name="Old pill", status="stopped")
    EmergencyContactFactory(patient=patient, name="Zed Friend")
    EmergencyContactFactory(patient=patient, name="Yan Spouse", is_primary=True)
    InsuranceFactory(patient=patient, company_name="Main Health", is_primary=True)
    return patient


def validate(bundle: dict) -> None:
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def by_url(bundle: dict) -> dict[str, dict]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def references(node):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def section(composition: dict, code: str) -> dict:
    return next(s for s in composition["section"] if s["code"]["coding"][0]["code"] == code)


def test_bundle_is_a_valid_ips_style_document(alice_api, filled):
    response = alice_api.get(FHIR.format(filled.pk))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    bundle = json.loads(response.content)
    validate(bundle)
    assert bundle["type"] == "document"
    assert bundle["timestamp"] and bundle["identifier"]["value"]

    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["status"] == "final"
    assert composition["type"]["coding"][0] == {
        "system": LOINC,
        "code": "60591-5",
        "display": "Patient summary Document",
    }
    resources = by_url(bundle)
    assert resources[composition["subject"]["reference"]]["resourceType"] == "Patient"
    assert resources[composition["author"][0]["reference"]]["resourceType"] == "Device"

    def listed(code):
        return [resources[e["reference"]] for e in section(composition, code).get("entry", [])]

    allergies = listed("48765-2")
    assert [a["resourceType"] for a in allergies] == ["AllergyIntolerance"]
    assert "Peanuts" in json.dumps(allergies[0])
    medications = listed("10160-0")
    assert [m["resourceType"] for m in medications] == ["MedicationStatement"]
    assert "Salbutamol" in json.dumps(medications[0]) and "Old pill" not in json.dumps(bundle)
    assert [c["resourceType"] for c in listed("11450-4")] == ["Condition"]
    contacts = listed("emergency-contacts")
    assert [c["resourceType"] for c in contacts] == ["RelatedPerson", "RelatedPerson"]
    assert "Yan Spouse" in json.dumps(contacts[0])  # the primary contact first
    assert [c["resourceType"] for c in listed("insurance")] == ["Coverage"]
    blood = listed("30954-2")
    assert blood[0]["code"]["coding"][0]["code"] == "882-1"
    assert blood[0]["valueCodeableConcept"]["text"] == "AB+"
    for item in section(composition, "48765-2")["text"]["div"], composition["title"]:
        assert item

    # Every reference resolves inside the document (the doctor and pharmacy are included).
    for reference in references(bundle):
        assert reference in resources, reference
    kinds = {r["resourceType"] for r in resources.values()}
    assert {"Practitioner", "Organization"} <= kinds


def test_empty_sections_say_why(patient):
    bundle = patient_bundle(patient, base_url="http://testserver")
    validate(bundle)
    composition = bundle["entry"][0]["resource"]
    for code in ("48765-2", "10160-0", "11450-4", "30954-2", "emergency-contacts", "insurance"):
        empty = section(composition, code)
        assert "entry" not in empty
        assert empty["emptyReason"]["coding"][0]["code"] == "unavailable"
        assert "None recorded" in empty["text"]["div"]
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Composition",
        "Patient",
        "Device",
    ]


def test_public_fhir_answer(alice_api, anon, filled):
    made = alice_api.post(f"/api/v1/patients/{filled.pk}/emergency-links", {}, format="json").json()
    response = anon.get(f"/api/v1/emergency/{made['token']}/fhir")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert response["Cache-Control"] == "no-store"
    validate(json.loads(response.content))


def test_bundle_query_count_does_not_grow(filled, django_assert_max_num_queries):
    with django_assert_max_num_queries(30) as few:
        patient_bundle(filled, base_url="http://testserver")
    baseline = len(few.captured_queries)
    for _ in range(8):
        AllergyFactory(patient=filled)
        MedicationFactory(patient=filled, practitioner=PractitionerFactory())
        ConditionFactory(patient=filled)
        EmergencyContactFactory(patient=filled)
        InsuranceFactory(patient=filled, insurance_type="vision")
    with django_assert_max_num_queries(baseline):
        patient_bundle(filled, base_url="http://testserver")


VALIDATOR = Path(__file__).resolve().parents[1] / "validator"
NODE = shutil.which("node")


@pytest.mark.skipif(
    NODE is None or not (VALIDATOR / "node_modules" / "@medplum" / "core").is_dir(),
    reason="Medplum validator not installed: run npm ci --prefix interop/validator",
)
@pytest.mark.parametrize("empty", [False, True])
def test_bundle_passes_the_medplum_validator(filled, tmp_path, empty, patient):
    subject = patient if empty else filled
    if empty:
        for model in (Allergy, Condition, Medication, EmergencyContact, Insurance):
            model.objects.filter(patient=patient).delete()
        patient.blood_type = ""
        patient.save()
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(patient_bundle(subject, base_url="http://testserver")))
    result = subprocess.run(
        [NODE, str(VALIDATOR / "validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_links_to_records_outside_the_summary_are_cut(filled):
    from records.models import ConditionMedication

    asthma = Condition.objects.get(patient=filled, condition_name="Asthma")
    current = Medication.objects.get(patient=filled, medication_name="Salbutamol")
    stopped = Medication.objects.get(patient=filled, medication_name="Old pill")
    for medication in (current, stopped):
        ConditionMedication.objects.create(condition=asthma, medication=medication)
    bundle = patient_bundle(filled, base_url="http://testserver")
    validate(bundle)
    resources = by_url(bundle)
    for reference in references(bundle):
        assert reference in resources, reference
    assert "Old pill" not in json.dumps(bundle)


def test_prune_cuts_references_outside_the_bundle():
    from interop.emergency.fhir import _prune

    kept = {"urn:uuid:in"}
    resource = {
        "resourceType": "Condition",
        "subject": {"reference": "urn:uuid:in"},
        "asserter": {"reference": "urn:uuid:out", "display": "Dr Who"},
        "evidence": [{"detail": [{"reference": "urn:uuid:out"}]}],
        "extension": [
            {"url": "urn:x", "valueReference": {"reference": "urn:uuid:out"}},
            {"url": "urn:y", "valueString": "kept"},
        ],
        "contained": [{"resourceType": "Device", "id": "d"}],
        "device": {"reference": "#d"},
    }
    assert _prune(resource, kept) == {
        "resourceType": "Condition",
        "subject": {"reference": "urn:uuid:in"},
        "asserter": {"display": "Dr Who"},
        "extension": [{"url": "urn:y", "valueString": "kept"}],
        "contained": [{"resourceType": "Device", "id": "d"}],
        "device": {"reference": "#d"},
    }
