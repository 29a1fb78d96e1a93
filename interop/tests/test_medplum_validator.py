"""The second FHIR R4 validator (interop/validator/validate.mjs, Medplum's, run by Node).

First that it is a validator at all (known-bad resources are reported with their path, known-good
ones pass, unreadable input is told apart), then our real exports: a patient with a record of
every kind, exported through the API, must pass it as they pass fhir.resources.

Skips when the Node packages are not installed (.ci/run installs them, so CI always runs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from files.tests.helpers import PDF, factory_for, upload_of
from files.tests.s3server import local_files_storage  # noqa: F401 - a fixture, found by name
from patients.models import Patient, record_models
from patients.tests.factories import PatientFactory
from records.models import Encounter, Medication, Vitals
from records.tests.factories import PharmacyFactory, PractitionerFactory

VALIDATOR = Path(__file__).resolve().parents[1] / "validator"
NODE = shutil.which("node")
INSTALLED = NODE is not None and (VALIDATOR / "node_modules" / "@medplum" / "core").is_dir()

pytestmark = pytest.mark.skipif(
    not INSTALLED,
    reason="Medplum validator not installed: run npm ci --prefix interop/validator",
)


def run_validator(tmp_path: Path, *documents) -> subprocess.CompletedProcess:
    """Writes each document (a dict, or raw text) to a file and runs the validator on them."""
    paths = []
    for index, document in enumerate(documents):
        path = tmp_path / f"bundle{index}.json"
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        paths.append(str(path))
    return subprocess.run(
        [NODE, str(VALIDATOR / "validate.mjs"), *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- sample bundles ------------------------------------------------------------------------

PATIENT = "0b6e4a52-36a5-4d7c-9f0e-5c1b2d3e4f50"
CLINIC = "7c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
OTHER = "1f2e3d4c-5b6a-4978-8a6b-5c4d3e2f1a0b"


def entry(resource: dict) -> dict:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def subject() -> dict:
    return {"reference": f"urn:uuid:{PATIENT}"}


def good_resources() -> list[dict]:
    return [
        {
            "resourceType": "Patient",
            "id": PATIENT,
            "name": [{"family": "Owner", "given": ["Alice"]}],
            "gender": "female",
            "birthDate": "1985-06-15",
        },
        {"resourceType": "Organization", "id": CLINIC, "name": "Riverside Clinic"},
        {
            "resourceType": "MedicationStatement",
            "id": "2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7081",
            "status": "active",
            "medicationCodeableConcept": {"text": "Lisinopril"},
            "subject": subject(),
            "dosage": [{"text": "10 mg daily"}],
        },
        {
            "resourceType": "Condition",
            "id": "3b4c5d6e-7f80-4192-8b3c-4d5e6f708192",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"text": "Hypertension"},
            "subject": subject(),
            "onsetDateTime": "2020-03-01",
        },
        {
            "resourceType": "Observation",
            "id": "4c5d6e7f-8091-42a3-9c4d-5e6f708192a3",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": subject(),
            "effectiveDateTime": "2024-05-01T08:30:00+00:00",
            "valueQuantity": {
                "value": 72.5,
                "unit": "kg",
                "system": "http://unitsofmeasure.org",
                "code": "kg",
            },
        },
    ]


def bundle(resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [entry(r) for r in resources]}


def test_known_good_bundle_passes(tmp_path):
    result = run_validator(tmp_path, bundle(good_resources()))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines() == [
        "medplum-validate: 1 file(s), 6 resource(s), 0 problem(s)"
    ]


def _change(resource_type: str, edit):
    def apply(resources):
        for resource in resources:
            if resource["resourceType"] == resource_type:
                edit(resource)
        return resources

    return apply


def _without(resource_type: str, key: str):
    return _change(resource_type, lambda r: r.pop(key))


def _set(resource_type: str, key: str, value):
    return _change(resource_type, lambda r: r.__setitem__(key, value))


# (what is wrong, how to break the good bundle, the line the validator must print for it)
BAD = [
    (
        "unknown element",
        _set("MedicationStatement", "dosageText", "10 mg"),
        "entry 2 MedicationStatement/2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7081: error "
        'MedicationStatement.dosageText: Invalid additional property "dosageText" [medplum]',
    ),
    (
        "wrong JSON type",
        _set("Patient", "birthDate", 1985),
        "entry 0 Patient/0b6e4a52-36a5-4d7c-9f0e-5c1b2d3e4f50: error Patient.birthDate: "
        "Invalid JSON type: expected string, but got number [medplum]",
    ),
    (
        "bad date format",
        _set("Patient", "birthDate", "15/06/1985"),
        "error Patient.birthDate: Invalid date format [medplum]",
    ),
    (
        "missing required element",
        _without("MedicationStatement", "subject"),
        "error MedicationStatement.subject: Missing required property [medplum]",
    ),
    (
        "a list where one value is allowed",
        _set("Condition", "code", [{"text": "Hypertension"}]),
        "error Condition.code: Expected single value for property [medplum]",
    ),
    (
        "invariant",
        _set("Observation", "dataAbsentReason", {"text": "not measured"}),
        "error Observation: Constraint obs-6 not met",
    ),
    (
        "reference to the wrong resource type",
        _set("Condition", "subject", {"reference": f"urn:uuid:{CLINIC}"}),
        'warning Condition.subject: Invalid reference: got "Organization"',
    ),
    (
        "reference to nothing in the bundle",
        _set("Condition", "subject", {"reference": f"urn:uuid:{OTHER}"}),
        f"error Condition.subject.reference: reference urn:uuid:{OTHER} matches no entry's "
        "fullUrl in this Bundle [bundle]",
    ),
    (
        "status outside its required value set",
        _set("MedicationStatement", "status", "paused"),
        'error MedicationStatement.status: "paused" is not in the required ValueSet '
        "http://hl7.org/fhir/ValueSet/medication-statement-status [binding]",
    ),
    (
        "coded status outside its required value set",
        _set(
            "Condition",
            "clinicalStatus",
            {"coding": [{"system": "http://snomed.info/sct", "code": "55561003"}]},
        ),
        "error Condition.clinicalStatus: http://snomed.info/sct|55561003 is not in the required "
        "ValueSet http://hl7.org/fhir/ValueSet/condition-clinical [binding]",
    ),
    (
        "unknown resource type",
        _set("Organization", "resourceType", "Clinic"),
        "entry 1 Clinic/7c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5: error",
    ),
]


@pytest.mark.parametrize(("problem", "breaks", "expected"), BAD, ids=[b[0] for b in BAD])
def test_known_bad_resources_are_reported(tmp_path, problem, breaks, expected):
    result = run_validator(tmp_path, bundle(breaks(good_resources())))

    assert result.returncode == 1, result.stdout + result.stderr
    problems = result.stdout.strip().splitlines()[:-1]
    assert problems, problem
    assert any(expected in line for line in problems), "\n".join(problems)
    assert all(line.startswith(str(tmp_path / "bundle0.json") + ": ") for line in problems)
    assert result.stdout.strip().splitlines()[-1].endswith(f"{len(problems)} problem(s)")


def test_problems_of_the_bundle_itself(tmp_path):
    document = bundle(good_resources())
    document["entry"][3]["fullUrl"] = document["entry"][2]["fullUrl"]
    document["type"] = "pile"

    result = run_validator(tmp_path, document)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(": Bundle: error Bundle: Constraint bdl-7 not met" in line for line in lines)
    assert any(
        ': Bundle: error Bundle.type: "pile" is not in the required ValueSet' in line
        for line in lines
    ), result.stdout


def test_unreadable_input_is_not_a_validation_failure(tmp_path):
    result = run_validator(tmp_path, bundle(good_resources()), "{not json", '{"a": 1}')

    assert result.returncode == 2
    assert "bundle1.json: cannot read" in result.stderr
    assert "bundle2.json: cannot read: not a FHIR resource" in result.stderr
    assert result.stdout.strip().endswith("0 problem(s), 2 unreadable file(s)")

    missing = subprocess.run(
        [NODE, str(VALIDATOR / "validate.mjs"), str(tmp_path / "absent.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "absent.json: cannot read" in missing.stderr


# --- our real exports ----------------------------------------------------------------------


@pytest.fixture
def full_patient(shared_patient, alice_api, local_files_storage):  # noqa: F811 - the fixture
    """Alice's patient with a record of every kind, directory entries and an attached file."""
    for model in record_models():
        factory_for(model)(patient=shared_patient)
    doctor = PractitionerFactory()
    factory_for(Medication)(patient=shared_patient, practitioner=doctor, pharmacy=PharmacyFactory())
    factory_for(Encounter)(patient=shared_patient, practitioner=doctor)
    factory_for(Vitals)(
        patient=shared_patient,
        temperature=98.6,
        weight=150,
        height=66,
        oxygen_saturation=97,
        respiratory_rate=14,
        blood_glucose=95,
    )
    medication = Medication.objects.filter(patient=shared_patient).first()
    response = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("prescription.pdf", PDF), "description": "Prescription"},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return shared_patient


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize("file_data", [False, True], ids=["file-links", "file-data"])
def test_full_export_passes_medplum(tmp_path, alice_api, full_patient, file_data):
    path = f"/api/v1/patients/{full_patient.pk}/fhir"
    response = alice_api.get(path, {"include_file_data": "true"} if file_data else {})
    assert response.status_code == 200, _body(response)[:2000]
    document = json.loads(_body(response))
    from interop.fhir.maps import REGISTRY

    # Every kind with a map is in the Bundle, as a resource of its own unless its map nests it
    # in another resource (family conditions inside FamilyMemberHistory). That every kind has
    # a map is the round-trip test's business.
    exported = {
        tag["code"]
        for e in document["entry"]
        for tag in e["resource"].get("meta", {}).get("tag", [])
    }
    mapped = {m.kind: m for m in REGISTRY}
    own = {
        m.kind.name
        for m in record_models()
        if m.kind.name in mapped and not mapped[m.kind.name].nested_in
    }
    assert own - exported == set()
    assert {"patient", "practitioner", "practice", "pharmacy"} - exported == set()
    if any(m.resource_type == "DocumentReference" for m in REGISTRY):
        assert "DocumentReference" in {e["resource"]["resourceType"] for e in document["entry"]}

    result = run_validator(tmp_path, document)

    assert result.returncode == 0, result.stdout + result.stderr


def test_emergency_summary_documents_pass_medplum(tmp_path, alice_api, anon, full_patient):
    """The owner's emergency-summary document and the one behind a share link."""
    response = alice_api.get(f"/api/v1/patients/{full_patient.pk}/emergency-summary/fhir")
    assert response.status_code == 200, _body(response)[:2000]
    owners = json.loads(_body(response))
    link = alice_api.post(f"/api/v1/patients/{full_patient.pk}/emergency-links", {}, format="json")
    assert link.status_code in (200, 201), link.content
    public = anon.get(f"/api/v1/emergency/{link.json()['token']}/fhir")
    assert public.status_code == 200, _body(public)[:2000]
    shared = json.loads(_body(public))
    for document in (owners, shared):
        assert document["type"] == "document"
        assert document["entry"][0]["resource"]["resourceType"] == "Composition"

    result = run_validator(tmp_path, owners, shared)

    assert result.returncode == 0, result.stdout + result.stderr


def _choices(model) -> list[tuple[str, list]]:
    """(field name, its stored values) of each plain field of `model` that has choices."""
    return [
        (f.name, [value for value, _ in f.flatchoices if value not in ("", None)])
        for f in model._meta.concrete_fields
        if f.choices and not f.is_relation
    ]


def test_every_coded_value_exports_valid_fhir(tmp_path, alice, alice_api, full_patient):
    """Statuses, severities, genders … are where a mapping most easily leaves FHIR's required
    value sets (which fhir.resources does not check): a record for every choice of every
    coded field, and patients covering every gender and blood type."""
    for model in record_models():
        for name, values in _choices(model):
            for value in values:
                factory_for(model)(patient=full_patient, **{name: value})
    patients = [full_patient]
    columns = dict(_choices(Patient))
    rows = max(len(values) for values in columns.values())
    for i in range(rows):
        fields = {name: values[i % len(values)] for name, values in columns.items()}
        patients.append(PatientFactory(owner=alice, **fields))

    documents = []
    for patient in patients:
        response = alice_api.get(f"/api/v1/patients/{patient.pk}/fhir")
        assert response.status_code == 200, _body(response)[:2000]
        documents.append(json.loads(_body(response)))

    result = run_validator(tmp_path, *documents)

    assert result.returncode == 0, result.stdout + result.stderr
