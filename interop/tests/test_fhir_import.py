"""POST /api/v1/patients/{id}/fhir: access, refusals, dry run, idempotence, validation."""

from __future__ import annotations

import json

import pytest

from adminops.models import ActivityLog
from adminops.services import entity_type_of
from files.tests.s3server import local_files_storage  # noqa: F401 - a fixture
from interop.models import ExternalIdentifier, ServerIdentity
from interop.tests.conftest import ALL_KINDS, fhir_url, make_records, row_counts
from patients.tests.factories import PatientFactory
from records.models import (
    Condition,
    ConditionMedication,
    Medication,
    Practitioner,
    TreatmentEquipment,
    TreatmentMedication,
)
from records.tests import factories as f

pytestmark = pytest.mark.django_db


def bundle_of(*resources, kind="collection"):
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{n:012d}", "resource": r}
            for n, r in enumerate(resources)
        ],
    }


CONDITION = {"resourceType": "Condition", "code": {"text": "Asthma"}}


def test_anonymous_is_refused(anon, patient, fhir_import):
    assert fhir_import(anon, patient.pk, bundle_of(CONDITION)).status_code == 401


def test_stranger_is_refused(client_for, mallory, patient, fhir_import):
    assert fhir_import(client_for(mallory), patient.pk, bundle_of(CONDITION)).status_code == 403
    assert fhir_import(client_for(mallory), 999999, bundle_of(CONDITION)).status_code == 404
    assert not Condition.objects.exists()


def test_view_share_may_not_import(client_for, bob, shared_patient, fhir_import):
    response = fhir_import(client_for(bob), shared_patient.pk, bundle_of(CONDITION))
    assert response.status_code == 403
    assert not Condition.objects.exists()


def test_edit_share_imports(client_for, carol, shared_patient, fhir_import):
    response = fhir_import(client_for(carol), shared_patient.pk, bundle_of(CONDITION))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["counts"] == {"created": 1, "updated": 0, "skipped": 0}
    created = body["created"][0]
    assert created["kind"] == "condition" and created["resourceType"] == "Condition"
    row = Condition.objects.get(pk=created["record_id"])
    assert row.patient_id == shared_patient.pk and row.condition_name == "Asthma"


def test_not_json_is_400(alice_api, patient):
    response = alice_api.post(fhir_url(patient.pk), "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status"] == "error"


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "searchset", "entry": []},
        {"resourceType": "Bundle", "type": "collection", "entry": {"a": 1}},
        "text",
    ],
)
def test_not_a_bundle_is_422(alice_api, patient, body):
    response = alice_api.post(
        fhir_url(patient.pk), json.dumps(body), content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert response.json()["status"] == "error"


def test_too_big_is_413(alice_api, patient, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = bundle_of(*[{**CONDITION, "note": [{"text": "x" * 200}]} for _ in range(10)])
    response = alice_api.post(
        fhir_url(patient.pk), json.dumps(big), content_type="application/fhir+json"
    )
    assert response.status_code == 413
    assert not Condition.objects.exists()


def test_dry_run_writes_nothing(alice_api, patient, fhir_import):
    f.ConditionFactory(patient=patient)
    doctor = {
        "resourceType": "Practitioner",
        "id": "d1",
        "name": [{"text": "Dr. New"}],
        "qualification": [{"code": {"text": "Brand New Specialty"}}],
    }
    bundle = bundle_of(
        CONDITION,
        doctor,
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "medicationCodeableConcept": {"text": "Aspirin"},
            "informationSource": {"reference": "Practitioner/d1"},
        },
        {"resourceType": "Patient", "name": [{"family": "Renamed", "given": ["Alice"]}]},
    )
    ServerIdentity.system()  # the server's identity is made once, on first use
    before = row_counts()
    response = fhir_import(alice_api, patient.pk, bundle, dry_run=True)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["dry_run"] is True
    assert body["counts"] == {"created": 3, "updated": 1, "skipped": 0}
    assert all(item["record_id"] is None for item in body["created"])
    assert row_counts() == before
    patient.refresh_from_db()
    assert patient.last_name == "Owner"


def test_import_is_idempotent_and_keeps_identifiers(alice_api, patient, fhir_import):
    foreign = {**CONDITION, "identifier": [{"system": "https://other.example/ids", "value": "c-1"}]}
    bare = {"resourceType": "AllergyIntolerance", "code": {"text": "Peanuts"}}
    first = fhir_import(alice_api, patient.pk, bundle_of(foreign, bare)).json()
    assert first["counts"]["created"] == 2
    assert ExternalIdentifier.objects.filter(patient=patient, value="c-1").exists()
    assert ExternalIdentifier.objects.filter(
        patient=patient, system="urn:medikeep:fullUrl"
    ).exists()
    again = fhir_import(alice_api, patient.pk, bundle_of(foreign, bare)).json()
    assert again["counts"] == {"created": 0, "updated": 0, "skipped": 2}
    assert {item["reason"] for item in again["skipped"]} == {"unchanged"}
    changed = {**foreign, "note": [{"text": "Seasonal"}]}
    third = fhir_import(alice_api, patient.pk, bundle_of(changed, bare)).json()
    assert third["counts"] == {"created": 0, "updated": 1, "skipped": 1}
    assert Condition.objects.get(patient=patient).notes == "Seasonal"


def test_own_export_into_same_patient_changes_nothing(alice_api, patient, fhir_export, fhir_import):
    f.MedicationFactory(patient=patient, practitioner=f.PractitionerFactory())
    f.ConditionFactory(patient=patient)
    bundle = fhir_export(alice_api, patient.pk)
    body = fhir_import(alice_api, patient.pk, bundle).json()
    assert body["counts"]["created"] == 0 and body["counts"]["updated"] == 0


def test_invalid_resources_are_skipped_with_reasons(alice_api, patient, fhir_import):
    bundle = bundle_of(
        {"resourceType": "Condition", "code": {"text": "X"}},  # too short a name
        {"resourceType": "Immunization", "vaccineCode": {"text": "Flu"}},  # no date
        {"resourceType": "Spaceship", "name": "Enterprise"},
        {"resourceType": "Condition", "code": {"text": "Gout"}, "onsetDateTime": "2999-01-01"},
        {"resourceType": "Condition", "code": 12, "note": "bad"},
        CONDITION,
    )
    bundle["entry"].append({"request": {"method": "DELETE", "url": "Condition/1"}})
    bundle["entry"].append("not an entry")
    bundle["entry"].append({"resource": {"resourceType": "Condition"}, "request": "POST"})
    bundle["entry"].append({"resource": {"resourceType": ["Condition"]}})
    response = fhir_import(alice_api, patient.pk, bundle)
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"created": 1, "updated": 0, "skipped": 9}
    reasons = [item["reason"] for item in body["skipped"]]
    assert all(reasons)
    assert any("condition_name" in r for r in reasons)
    assert any("Spaceship" in r for r in reasons)
    assert any("DELETE" in r for r in reasons)
    assert Condition.objects.filter(patient=patient).count() == 1


def test_transaction_bundle_with_relative_references(alice_api, patient, fhir_import):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "https://ehr.example/fhir/Condition/7",
                "resource": {"resourceType": "Condition", "id": "7", "code": {"text": "Migraine"}},
                "request": {"method": "PUT", "url": "Condition/7"},
            },
            {
                "resource": {
                    "resourceType": "Procedure",
                    "status": "completed",
                    "code": {"text": "MRI scan"},
                    "performedDateTime": "2023-05-01T10:00:00Z",
                    "reasonReference": [{"reference": "Condition/7"}],
                },
                "request": {"method": "POST", "url": "Procedure"},
            },
        ],
    }
    body = fhir_import(alice_api, patient.pk, bundle).json()
    assert body["counts"]["created"] == 2, body
    procedure = patient.records_procedure_set.get()
    assert procedure.condition.condition_name == "Migraine"


def test_changes_are_announced_to_the_activity_log(
    alice_api, patient, fhir_import, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fhir_import(alice_api, patient.pk, bundle_of(CONDITION))
    row = Condition.objects.get(patient=patient)
    assert ActivityLog.objects.filter(entity_id=row.pk, action="created").exists()


def test_foreign_bundle_imports_the_common_kinds(alice_api, patient, fhir_import):
    """A bundle as another app writes it: no tags of ours, codes by text or display."""
    other = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:p",
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"use": "official", "family": "Owner", "given": ["Alice", "M"]}],
                    "gender": "female",
                    "birthDate": "1985-06-15",
                    "telecom": [
                        {"system": "phone", "value": "555 1234"},
                        {"system": "email", "value": "a@example.org"},
                    ],
                    "address": [
                        {"line": ["5 Elm St"], "city": "Springfield", "postalCode": "12345"}
                    ],
                },
            },
            {
                "fullUrl": "urn:uuid:dr",
                "resource": {
                    "resourceType": "Practitioner",
                    "name": [{"prefix": ["Dr."], "given": ["Greg"], "family": "House"}],
                    "qualification": [{"code": {"coding": [{"display": "Nephrology"}]}}],
                },
            },
            {
                "fullUrl": "urn:uuid:org",
                "resource": {"resourceType": "Organization", "name": "Walgreens Pharmacy #4"},
            },
            {
                "fullUrl": "urn:uuid:c",
                "resource": {
                    "resourceType": "Condition",
                    "clinicalStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                "code": "active",
                            }
                        ]
                    },
                    "code": {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "38341003",
                                "display": "Hypertension",
                            }
                        ]
                    },
                    "subject": {"reference": "urn:uuid:p"},
                    "onsetDateTime": "2019-04",
                    "asserter": {"reference": "urn:uuid:dr"},
                },
            },
            {
                "fullUrl": "urn:uuid:m",
                "resource": {
                    "resourceType": "MedicationStatement",
                    "status": "active",
                    "medicationCodeableConcept": {
                        "coding": [
                            {
                                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                "code": "29046",
                                "display": "Lisinopril 10 MG",
                            }
                        ]
                    },
                    "subject": {"reference": "urn:uuid:p"},
                    "dosage": [
                        {"text": "10 mg once daily", "route": {"coding": [{"display": "Oral"}]}}
                    ],
                    "reasonReference": [{"reference": "urn:uuid:c"}],
                },
            },
            {
                "fullUrl": "urn:uuid:a",
                "resource": {
                    "resourceType": "AllergyIntolerance",
                    "code": {"text": "Shellfish"},
                    "criticality": "high",
                    "patient": {"reference": "urn:uuid:p"},
                    "reaction": [{"manifestation": [{"coding": [{"display": "Anaphylaxis"}]}]}],
                },
            },
            {
                "fullUrl": "urn:uuid:i",
                "resource": {
                    "resourceType": "Immunization",
                    "status": "completed",
                    "vaccineCode": {
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/sid/cvx",
                                "code": "140",
                                "display": "Influenza, seasonal",
                            }
                        ]
                    },
                    "patient": {"reference": "urn:uuid:p"},
                    "occurrenceDateTime": "2023-10-10T09:00:00+02:00",
                },
            },
            {
                "fullUrl": "urn:uuid:e",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": "AMB",
                    },
                    "type": [{"text": "Annual physical"}],
                    "period": {"start": "2024-02-02T10:00:00Z"},
                    "participant": [{"individual": {"reference": "urn:uuid:dr"}}],
                },
            },
            {
                "fullUrl": "urn:uuid:rp",
                "resource": {
                    "resourceType": "RelatedPerson",
                    "patient": {"reference": "urn:uuid:p"},
                    "relationship": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                    "code": "SPS",
                                }
                            ]
                        }
                    ],
                    "name": [{"given": ["Jane"], "family": "Owner"}],
                    "telecom": [{"system": "phone", "value": "555 9876"}],
                },
            },
            {
                "fullUrl": "urn:uuid:cov",
                "resource": {
                    "resourceType": "Coverage",
                    "status": "active",
                    "beneficiary": {"reference": "urn:uuid:p"},
                    "payor": [{"display": "Blue Cross"}],
                    "period": {"start": "2024-01-01"},
                    "subscriberId": "XYZ1",
                },
            },
        ],
    }
    patient.blood_type, patient.height = "A+", 65
    patient.save()
    response = fhir_import(alice_api, patient.pk, other)
    assert response.status_code == 200
    body = response.json()
    assert body["counts"]["skipped"] == 0, body["skipped"]
    kinds = sorted(item["kind"] for item in body["created"])
    assert kinds == sorted(
        [
            "practitioner",
            "pharmacy",
            "condition",
            "medication",
            "allergy",
            "immunization",
            "encounter",
            "emergency_contact",
            "insurance",
        ]
    )
    condition = Condition.objects.get(patient=patient)
    assert condition.condition_name == "Hypertension" and condition.snomed_code == "38341003"
    assert condition.practitioner.name == "Dr. Greg House"
    assert Practitioner.objects.get(name="Dr. Greg House").specialty.name == "Nephrology"
    medication = Medication.objects.get(patient=patient)
    assert (medication.medication_name, medication.route) == ("Lisinopril 10 MG", "oral")
    allergy = patient.records_allergy_set.get()
    assert (allergy.severity, allergy.reaction) == ("severe", "Anaphylaxis")
    assert patient.records_emergencycontact_set.get().relationship == "spouse"
    assert patient.records_encounter_set.get().reason == "Annual physical"
    patient.refresh_from_db()
    assert patient.address_details["city"] == "Springfield"
    assert (patient.blood_type, patient.height) == ("A+", 65)  # not carried: kept
    assert patient.email == "a@example.org"
    assert fhir_import(alice_api, patient.pk, other).json()["counts"]["created"] == 0


def test_directory_entries_are_matched_by_name(alice_api, patient, fhir_import):
    existing = f.PractitionerFactory(name="Dr. Known")
    doctor = {"resourceType": "Practitioner", "id": "x", "name": [{"text": "dr. known"}]}
    med = {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationCodeableConcept": {"text": "Aspirin"},
        "informationSource": {"reference": "Practitioner/x"},
    }
    body = fhir_import(alice_api, patient.pk, bundle_of(doctor, med)).json()
    assert body["counts"] == {"created": 1, "updated": 0, "skipped": 1}
    assert Medication.objects.get(patient=patient).practitioner == existing
    assert Practitioner.objects.count() == 1


def test_practitioner_without_specialty_is_skipped(alice_api, patient, fhir_import):
    doctor = {"resourceType": "Practitioner", "name": [{"text": "Dr. Nobody"}]}
    body = fhir_import(alice_api, patient.pk, bundle_of(doctor)).json()
    assert body["counts"]["skipped"] == 1
    assert "specialty" in body["skipped"][0]["reason"]


def test_import_into_another_patient_is_a_copy(alice_api, alice, patient, fhir_export, fhir_import):
    f.ConditionFactory(patient=patient, condition_name="Copied")
    target = PatientFactory(owner=alice)
    body = fhir_import(alice_api, target.pk, fhir_export(alice_api, patient.pk)).json()
    assert body["counts"]["created"] == 1
    assert Condition.objects.filter(condition_name="Copied").count() == 2


def test_reference_by_our_identifier_finds_an_existing_record(alice_api, patient, fhir_import):
    condition = f.ConditionFactory(patient=patient)
    identifier = {"system": ServerIdentity.system(), "value": f"condition/{condition.pk}"}
    procedure = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {"text": "Biopsy"},
        "performedDateTime": "2024-01-01",
        "reasonReference": [{"identifier": identifier}],
    }
    body = fhir_import(alice_api, patient.pk, bundle_of(procedure)).json()
    assert body["counts"]["created"] == 1
    assert patient.records_procedure_set.get().condition == condition


def test_reference_to_another_patients_record_is_not_followed(alice_api, patient, fhir_import):
    foreign = f.ConditionFactory()
    identifier = {"system": ServerIdentity.system(), "value": f"condition/{foreign.pk}"}
    procedure = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {"text": "Biopsy"},
        "performedDateTime": "2024-01-01",
        "reasonReference": [{"identifier": identifier}],
    }
    body = fhir_import(alice_api, patient.pk, bundle_of(procedure)).json()
    assert body["counts"]["created"] == 1
    assert body["created"][0]["warnings"]
    assert patient.records_procedure_set.get().condition is None


def test_links_are_made_once(alice_api, alice, patient, fhir_export, fhir_import):
    make_records("treatment", patient, count=1)
    target = PatientFactory(owner=alice)
    bundle = fhir_export(alice_api, patient.pk)
    for _ in range(2):
        assert fhir_import(alice_api, target.pk, bundle).status_code == 200
    assert TreatmentMedication.objects.filter(treatment__patient=target).count() == 1
    assert TreatmentEquipment.objects.filter(treatment__patient=target).count() == 1
    link = TreatmentMedication.objects.get(treatment__patient=target)
    assert link.specific_dosage == "400 mg" and link.specific_pharmacy is not None


def test_links_are_announced(
    alice_api, alice, patient, fhir_export, fhir_import, django_capture_on_commit_callbacks
):
    make_records("condition", patient, count=1)
    target = PatientFactory(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        fhir_import(alice_api, target.pk, fhir_export(alice_api, patient.pk))
    link = ConditionMedication.objects.get(condition__patient=target)
    assert ActivityLog.objects.filter(
        entity_type=entity_type_of(ConditionMedication), entity_id=link.pk, action="created"
    ).exists()


JUNK = [None, 7, "x", [], {}, [1, "a"], {"a": {"b": 1}}, [{"text": 5}], True]


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_junk_in_any_element_is_never_a_500(
    alice_api, alice, patient, fhir_export, fhir_import, junk, request
):
    """Every element of every kind's resource replaced, one at a time, by junk."""
    request.getfixturevalue("local_files_storage")
    for kind in ALL_KINDS:
        make_records(kind, patient, count=1)
    exported = fhir_export(alice_api, patient.pk, include_file_data="true")
    entries = []
    for number, entry in enumerate(exported["entry"]):
        resource = entry["resource"]
        for key in resource:
            if key == "resourceType":
                continue
            broken = {**resource, key: junk}
            entries.append({"fullUrl": f"urn:uuid:junk-{number}-{key}", "resource": broken})
    target = PatientFactory(owner=alice)
    response = fhir_import(
        alice_api, target.pk, {"resourceType": "Bundle", "type": "collection", "entry": entries}
    )
    assert response.status_code == 200, response.content[:500]


def test_bytes_of_an_import_that_fails_are_removed(
    alice,
    patient,
    local_files_storage,  # noqa: F811 - the fixture imported above
    monkeypatch,
):
    """A crash after a file's bytes were stored rolls the rows back and takes the bytes too."""
    from rest_framework.test import APIClient

    from files import storage
    from files.models import EntityFile
    from interop.fhir.importer import Importer, import_bundle

    make_records("file", patient, 1)
    client = APIClient()
    client.force_authenticate(alice)
    bundle = json.loads(
        b"".join(client.get(fhir_url(patient.pk), {"include_file_data": "true"}).streaming_content)
    )
    target = PatientFactory(owner=alice)
    names_before = set(storage.all_names())

    def crash(self, item):
        raise RuntimeError("the worker died")

    monkeypatch.setattr(Importer, "apply_links", crash)
    with pytest.raises(RuntimeError):
        import_bundle(bundle, user=alice, patient=target)
    assert len(set(storage.all_names())) > 0
    assert set(storage.all_names()) == names_before
    assert not EntityFile.objects.filter(patient=target).exists()
    # Without the crash the same bundle stores the file once.
    monkeypatch.undo()
    import_bundle(bundle, user=alice, patient=target)
    assert EntityFile.objects.filter(patient=target).count() == 1
    assert len(set(storage.all_names())) == len(names_before) + 1
