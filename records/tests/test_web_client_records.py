"""The record pages of MediKeep's web app (v0.69.0), call by call, with the bodies it sends
(../shared/reference/web-client-api.md §5.2–5.8, §5.11–5.17): every call answers the status
the app expects, and every field the app reads is in the answer. Links (§6) are in
test_web_client_links.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from records.tests.factories import (
    ConditionFactory,
    InjuryTypeFactory,
    MedicalSpecialtyFactory,
    MedicationFactory,
    PharmacyFactory,
    PracticeFactory,
    PractitionerFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
RECORD_FIELDS = ("id", "patient_id", "created_at", "updated_at")


@dataclass(frozen=True)
class Page:
    """One record page: its path, the bodies the app posts and puts, what it reads."""

    path: str
    create: Callable[[object], dict]  # patient -> the create body
    update: Callable[[object], dict]  # patient -> the edit body
    reads: tuple[str, ...]
    changed: tuple[str, object]  # a field the edit changes and its new value
    tagged: bool = True
    # Where the app puts patient_id: "body" or "query" (emergency contacts, family members)
    patient_in: str = "body"
    delete_statuses: tuple[int, ...] = (200, 204)
    extra_query: dict = field(default_factory=dict)

    def query(self, patient) -> str:
        return f"?patient_id={patient.pk}" if self.patient_in == "query" else ""


def medication_create(patient):
    # On create the app drops every key whose value is "" or null (§5.2).
    return {
        "medication_name": "Lisinopril",
        "medication_type": "prescription",
        "dosage": "10mg",
        "frequency": "once daily",
        "status": "active",
        "patient_id": patient.pk,
        "tags": ["heart"],
        "reminder_enabled": False,
        "reminder_times": [],
    }


def medication_update(patient):
    # The edit sends every key, empties as null.
    return {
        "medication_name": "Lisinopril",
        "alternative_name": None,
        "medication_type": "prescription",
        "dosage": "20mg",
        "frequency": None,
        "route": None,
        "indication": None,
        "status": "active",
        "patient_id": patient.pk,
        "practitioner_id": None,
        "pharmacy_id": None,
        "notes": None,
        "side_effects": None,
        "tags": [],
        "reminder_enabled": False,
        "reminder_times": [],
        "reminder_days": None,
        "reminder_message": None,
    }


def allergy_body(patient):
    return {
        "allergen": "Penicillin",
        "severity": "severe",
        "reaction": "",
        "onset_date": None,
        "status": "active",
        "notes": None,
        "medication_id": None,
        "tags": [],
        "patient_id": patient.pk,
    }


def condition_body(patient):
    return {
        "condition_name": None,
        "diagnosis": "Asthma",
        "notes": None,
        "status": "active",
        "severity": None,
        "practitioner_id": None,
        "icd10_code": None,
        "snomed_code": None,
        "code_description": None,
        "onset_date": None,
        "end_date": None,
        "tags": [],
        "patient_id": patient.pk,
    }


def immunization_body(patient):
    return {
        "vaccine_name": "Influenza",
        "vaccine_trade_name": None,
        "date_administered": "2024-10-01",
        "dose_number": None,
        "lot_number": None,
        "ndc_number": None,
        "manufacturer": None,
        "site": None,
        "route": None,
        "expiration_date": None,
        "location": None,
        "notes": None,
        "practitioner_id": None,
        "standardized_vaccine_who_code": None,
        "tags": [],
        "patient_id": patient.pk,
    }


def procedure_body(patient):
    return {
        "procedure_name": "Colonoscopy",
        "procedure_type": None,
        "procedure_code": None,
        "description": "",
        "date": "2024-03-05",
        "status": "completed",
        "outcome": None,
        "notes": None,
        "facility": None,
        "procedure_setting": None,
        "procedure_complications": None,
        "procedure_duration": None,
        "practitioner_id": None,
        "anesthesia_type": None,
        "anesthesia_notes": None,
        "tags": [],
        "patient_id": patient.pk,
    }


def treatment_body(patient):
    return {
        "treatment_name": "Physical therapy",
        "treatment_type": None,
        "description": None,
        "start_date": None,
        "end_date": None,
        "status": "active",
        "dosage": None,
        "frequency": None,
        "mode": "simple",
        "notes": None,
        "tags": [],
        "patient_id": patient.pk,
        "condition_id": None,
        "practitioner_id": None,
    }


def encounter_body(patient):
    return {
        "reason": "Annual checkup",
        "date": "2024-05-01",
        "notes": None,
        "practitioner_id": None,
        "condition_id": None,
        "visit_type": None,
        "chief_complaint": None,
        "diagnosis": None,
        "treatment_plan": None,
        "follow_up_instructions": None,
        "duration_minutes": None,
        "location": None,
        "priority": None,
        "tags": [],
        "patient_id": patient.pk,
    }


def injury_body(patient):
    return {
        "injury_name": "Sprained ankle",
        "injury_type_id": None,
        "body_part": "Ankle",
        "laterality": None,
        "date_of_injury": None,
        "mechanism": None,
        "severity": None,
        "status": "active",
        "treatment_received": None,
        "recovery_notes": None,
        "practitioner_id": None,
        "notes": None,
        "tags": [],
        "patient_id": patient.pk,
    }


def insurance_create(patient):
    # Empty values stripped on create.
    return {
        "insurance_type": "medical",
        "company_name": "Acme Health",
        "member_name": "Alice Owner",
        "member_id": "M-123",
        "effective_date": "2024-01-01",
        "status": "active",
        "is_primary": True,
        "coverage_details": {},
        "contact_info": {},
        "patient_id": patient.pk,
    }


def insurance_update(patient):
    # Every key but patient_id, empties as "" (expiration_date included).
    return {
        "insurance_type": "medical",
        "company_name": "Acme Health",
        "employer_group": "",
        "member_name": "Alice Owner",
        "member_id": "M-124",
        "group_number": "",
        "plan_name": "",
        "policy_holder_name": "",
        "relationship_to_holder": "",
        "effective_date": "2024-01-01",
        "expiration_date": "",
        "status": "active",
        "is_primary": True,
        "notes": "",
        "coverage_details": {},
        "contact_info": {},
    }


def contact_body(patient):
    # patient_id only in the query string.
    return {
        "name": "Bob Owner",
        "relationship": "spouse",
        "phone_number": "555-123-4567",
        "secondary_phone": None,
        "email": None,
        "is_primary": True,
        "is_active": True,
        "address": None,
        "notes": None,
    }


def family_member_body(patient):
    return {
        "name": "John Owner",
        "relationship": "father",
        "gender": None,
        "birth_year": 1950,
        "death_year": None,
        "is_deceased": False,
        "notes": None,
        "patient_id": patient.pk,
    }


def symptom_body(patient):
    return {
        "symptom_name": "Headache",
        "category": "",
        "first_occurrence_date": "2024-02-01",
        "status": "active",
        "is_chronic": False,
        "resolved_date": None,
        "typical_triggers": ["stress"],
        "general_notes": "",
        "tags": [],
        "patient_id": patient.pk,
    }


def equipment_body(patient):
    return {
        "equipment_name": "CPAP machine",
        "equipment_type": "cpap",
        "manufacturer": None,
        "model_number": None,
        "serial_number": None,
        "prescribed_date": None,
        "last_service_date": None,
        "next_service_date": None,
        "usage_instructions": None,
        "status": "active",
        "supplier": None,
        "notes": None,
        "tags": [],
        "patient_id": patient.pk,
        "practitioner_id": None,
    }


def with_(make, **changes):
    return lambda patient: {**make(patient), **changes}


PAGES = [
    Page(
        "medications",
        medication_create,
        medication_update,
        (
            "medication_name",
            "alternative_name",
            "medication_type",
            "dosage",
            "frequency",
            "route",
            "indication",
            "status",
            "practitioner_id",
            "pharmacy_id",
            "notes",
            "side_effects",
            "reminder_enabled",
            "reminder_times",
            "reminder_days",
            "reminder_message",
            "effective_period_start",
            "effective_period_end",
        ),
        ("dosage", "20mg"),
    ),
    Page(
        "allergies",
        allergy_body,
        with_(allergy_body, reaction="Hives"),
        ("allergen", "severity", "reaction", "onset_date", "status", "notes", "medication_id"),
        ("reaction", "Hives"),
    ),
    Page(
        "conditions",
        condition_body,
        with_(condition_body, diagnosis="Severe asthma"),
        (
            "diagnosis",
            "condition_name",
            "notes",
            "status",
            "severity",
            "practitioner_id",
            "icd10_code",
            "snomed_code",
            "code_description",
            "onset_date",
            "end_date",
        ),
        ("diagnosis", "Severe asthma"),
    ),
    Page(
        "immunizations",
        immunization_body,
        with_(immunization_body, lot_number="AB12"),
        (
            "vaccine_name",
            "vaccine_trade_name",
            "date_administered",
            "dose_number",
            "lot_number",
            "ndc_number",
            "manufacturer",
            "site",
            "route",
            "expiration_date",
            "location",
            "notes",
            "practitioner_id",
            "standardized_vaccine_who_code",
        ),
        ("lot_number", "AB12"),
    ),
    Page(
        "procedures",
        procedure_body,
        with_(procedure_body, date="2024-03-06"),
        (
            "procedure_name",
            "procedure_type",
            "procedure_code",
            "description",
            "date",
            "status",
            "outcome",
            "notes",
            "facility",
            "procedure_setting",
            "procedure_complications",
            "procedure_duration",
            "practitioner_id",
            "anesthesia_type",
            "anesthesia_notes",
        ),
        ("date", "2024-03-06"),
    ),
    Page(
        "treatments",
        treatment_body,
        with_(treatment_body, dosage="Twice a week"),
        (
            "treatment_name",
            "treatment_type",
            "description",
            "start_date",
            "end_date",
            "status",
            "dosage",
            "frequency",
            "mode",
            "notes",
            "condition_id",
            "condition",
            "practitioner_id",
            "practitioner",
        ),
        ("dosage", "Twice a week"),
    ),
    Page(
        "encounters",
        encounter_body,
        with_(encounter_body, visit_type="follow-up"),
        (
            "reason",
            "date",
            "notes",
            "practitioner_id",
            "condition_id",
            "visit_type",
            "chief_complaint",
            "diagnosis",
            "treatment_plan",
            "follow_up_instructions",
            "duration_minutes",
            "location",
            "priority",
        ),
        ("visit_type", "follow-up"),
    ),
    Page(
        "injuries",
        injury_body,
        with_(injury_body, mechanism="Fell on stairs"),
        (
            "injury_name",
            "injury_type_id",
            "body_part",
            "laterality",
            "date_of_injury",
            "mechanism",
            "severity",
            "status",
            "treatment_received",
            "recovery_notes",
            "practitioner_id",
            "notes",
        ),
        ("mechanism", "Fell on stairs"),
    ),
    Page(
        "insurances",
        insurance_create,
        insurance_update,
        (
            "insurance_type",
            "company_name",
            "employer_group",
            "member_name",
            "member_id",
            "group_number",
            "plan_name",
            "policy_holder_name",
            "relationship_to_holder",
            "effective_date",
            "expiration_date",
            "status",
            "is_primary",
            "notes",
            "coverage_details",
            "contact_info",
        ),
        ("member_id", "M-124"),
        tagged=False,
    ),
    Page(
        "emergency-contacts",
        contact_body,
        with_(contact_body, email="bob@example.com"),
        (
            "name",
            "relationship",
            "phone_number",
            "secondary_phone",
            "email",
            "is_primary",
            "is_active",
            "address",
            "notes",
        ),
        ("email", "bob@example.com"),
        tagged=False,
        patient_in="query",
    ),
    Page(
        "family-members",
        family_member_body,
        with_(family_member_body, death_year=2020, is_deceased=True),
        (
            "name",
            "relationship",
            "gender",
            "birth_year",
            "death_year",
            "is_deceased",
            "notes",
            "family_conditions",
        ),
        ("death_year", 2020),
        tagged=False,
        patient_in="query",
    ),
    Page(
        "symptoms",
        symptom_body,
        with_(symptom_body, status="resolved", resolved_date="2024-03-01"),
        (
            "symptom_name",
            "category",
            "status",
            "is_chronic",
            "typical_triggers",
            "general_notes",
            "first_occurrence_date",
            "last_occurrence_date",
            "resolved_date",
            "occurrence_count",
        ),
        ("resolved_date", "2024-03-01"),
    ),
    Page(
        "medical-equipment",
        equipment_body,
        with_(equipment_body, supplier="Acme Medical"),
        (
            "equipment_name",
            "equipment_type",
            "manufacturer",
            "model_number",
            "serial_number",
            "prescribed_date",
            "last_service_date",
            "next_service_date",
            "usage_instructions",
            "status",
            "supplier",
            "notes",
            "practitioner_id",
        ),
        ("supplier", "Acme Medical"),
    ),
]


@pytest.fixture(params=PAGES, ids=lambda page: page.path)
def page(request):
    return request.param


def reads(page) -> set[str]:
    return {*RECORD_FIELDS, *page.reads, *(("tags",) if page.tagged else ())}


class TestRecordPages:
    def test_create_list_view_edit_delete(self, page, alice_api, patient):
        base = f"{API}/{page.path}/"
        query = page.query(patient)
        created = alice_api.post(f"{base}{query}", page.create(patient), format="json")
        assert created.status_code == 201, created.content
        record_id = created.json()["id"]
        assert reads(page) <= set(created.json())

        listed = alice_api.get(base, {"patient_id": patient.pk})
        assert listed.status_code == 200
        assert isinstance(listed.json(), list), "the app needs a bare array"
        assert [item["id"] for item in listed.json()] == [record_id]
        missing = reads(page) - set(listed.json()[0])
        assert not missing, missing

        item = f"{API}/{page.path}/{record_id}{query}"
        edited = alice_api.put(item, page.update(patient), format="json")
        assert edited.status_code == 200, edited.content
        name, value = page.changed
        assert edited.json()[name] == value
        assert reads(page) <= set(edited.json())
        assert alice_api.get(item).json()[name] == value

        assert alice_api.delete(item).status_code in page.delete_statuses
        assert alice_api.get(item).status_code == 404

    def test_refusals(self, page, client_for, bob, mallory, anon, shared_patient):
        base = f"{API}/{page.path}/"
        query = page.query(shared_patient)
        viewer = client_for(bob)
        refused = viewer.post(f"{base}{query}", page.create(shared_patient), format="json")
        assert refused.status_code == 403
        owner_made = client_for(shared_patient.owner).post(
            f"{base}{query}", page.create(shared_patient), format="json"
        )
        assert owner_made.status_code == 201, owner_made.content
        item = f"{API}/{page.path}/{owner_made.json()['id']}"
        assert viewer.put(item, page.update(shared_patient), format="json").status_code == 403
        assert viewer.delete(item).status_code == 403
        stranger = client_for(mallory)
        assert stranger.get(item).status_code == 404
        assert stranger.put(item, page.update(shared_patient), format="json").status_code == 404
        assert anon.get(base).status_code == 401

    def test_bad_input_is_422(self, page, alice_api, patient):
        bad = BAD_INPUT.get(page.path, {"status": "no-such-status"})
        body = {**page.create(patient), **bad}
        response = alice_api.post(f"{API}/{page.path}/{page.query(patient)}", body, format="json")
        assert response.status_code == 422, response.content
        assert isinstance(response.json()["message"], str)
        assert set(bad) <= set(response.json()["errors"])


BAD_INPUT = {
    "immunizations": {"date_administered": "not-a-date"},
    "encounters": {"date": "not-a-date"},
    "emergency-contacts": {"relationship": "no-such-relation"},
    "family-members": {"relationship": "no-such-relation"},
}


# --- call-specific details -------------------------------------------------------------------


def test_medications_read_practitioner_and_pharmacy(alice_api, patient):
    doctor, pharmacy = PractitionerFactory(), PharmacyFactory(brand="CVS")
    body = {**medication_create(patient), "practitioner_id": doctor.pk, "pharmacy_id": pharmacy.pk}
    created = alice_api.post(f"{API}/medications/", body, format="json").json()
    assert created["practitioner"] == {
        "id": doctor.pk,
        "name": doctor.name,
        "specialty": doctor.specialty.name,
    }
    assert created["pharmacy"] == {"id": pharmacy.pk, "name": pharmacy.name, "brand": "CVS"}


def test_treatments_list_reads_condition_and_practitioner(alice_api, patient):
    condition = ConditionFactory(patient=patient, condition_name="Back pain", severity="mild")
    doctor = PractitionerFactory()
    body = {
        **treatment_body(patient),
        "condition_id": condition.pk,
        "practitioner_id": doctor.pk,
    }
    assert alice_api.post(f"{API}/treatments/", body, format="json").status_code == 201
    item = alice_api.get(f"{API}/treatments/", {"patient_id": patient.pk}).json()[0]
    assert {k: item["condition"][k] for k in ("diagnosis", "status", "severity")} == {
        "diagnosis": "Back pain",
        "status": condition.status,
        "severity": "mild",
    }
    assert {k: item["practitioner"][k] for k in ("name", "specialty", "practice")} == {
        "name": doctor.name,
        "specialty": doctor.specialty.name,
        "practice": doctor.practice.name,
    }


def test_treatment_page_pickers_without_patient_id_use_the_active_patient(alice_api, patient):
    from patients.tests.factories import PatientFactory

    MedicationFactory(patient=patient)
    MedicationFactory(patient=PatientFactory(owner=patient.owner))  # another of alice's
    for path in (
        "medications",
        "encounters",
        "lab-results",
        "medical-equipment",
        "practitioners",
        "pharmacies",
    ):
        response = alice_api.get(f"{API}/{path}/")
        assert response.status_code == 200, path
        assert isinstance(response.json(), list), path
    meds = alice_api.get(f"{API}/medications/").json()
    assert [m["patient_id"] for m in meds] == [patient.pk]


def test_medical_equipment_without_patient_id_is_the_active_patients(alice_api, patient):
    from patients.tests.factories import PatientFactory

    other = PatientFactory(owner=patient.owner)
    mine = alice_api.post(f"{API}/medical-equipment/", equipment_body(patient), format="json")
    alice_api.post(f"{API}/medical-equipment/", equipment_body(other), format="json")
    listed = alice_api.get(f"{API}/medical-equipment/").json()
    assert [e["id"] for e in listed] == [mine.json()["id"]]


def test_immunization_history(alice_api, patient):
    alice_api.post(f"{API}/immunizations/", immunization_body(patient), format="json")
    response = alice_api.get(
        f"{API}/immunizations/patient/{patient.pk}/history",
        {"start_date": "2024-01-01", "end_date": "2024-12-31"},
    )
    assert response.status_code == 200
    body = response.json()
    assert {"items", "diseases_index", "unmatched_count"} <= set(body)
    item = body["items"][0]
    assert {
        "id",
        "vaccine_name",
        "date_administered",
        "dose_number",
        "components",
        "is_library_matched",
    } <= set(item)


def test_injury_types_list(alice_api):
    InjuryTypeFactory(name="Sprain")
    response = alice_api.get(f"{API}/injury-types/")
    assert response.status_code == 200
    assert {"id", "name", "description", "is_system"} <= set(response.json()[0])


def test_insurance_set_primary(alice_api, patient):
    first = alice_api.post(f"{API}/insurances/", insurance_create(patient), format="json").json()
    second = alice_api.post(
        f"{API}/insurances/",
        {**insurance_create(patient), "company_name": "Beta Care", "is_primary": False},
        format="json",
    ).json()
    response = alice_api.patch(f"{API}/insurances/{second['id']}/set-primary")
    assert response.status_code == 200
    listed = {i["id"]: i["is_primary"] for i in alice_api.get(f"{API}/insurances/").json()}
    assert listed == {first["id"]: False, second["id"]: True}


def test_emergency_contact_for_another_patient_through_the_query(alice_api, patient):
    from patients.tests.factories import PatientFactory

    other = PatientFactory(owner=patient.owner)
    created = alice_api.post(
        f"{API}/emergency-contacts/?patient_id={other.pk}", contact_body(other), format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["patient_id"] == other.pk


class TestFamilyConditions:
    def test_add_edit_delete_through_the_member(self, alice_api, patient):
        member = alice_api.post(
            f"{API}/family-members/", family_member_body(patient), format="json"
        ).json()
        base = f"{API}/family-members/{member['id']}/conditions"
        query = f"?patient_id={patient.pk}"
        body = {
            "condition_name": "Diabetes",
            "condition_type": None,
            "severity": None,
            "diagnosis_age": None,
            "status": None,
            "icd10_code": None,
            "notes": None,
        }
        created = alice_api.post(f"{base}{query}", body, format="json")
        assert created.status_code == 201, created.content
        condition_id = created.json()["id"]
        listed = alice_api.get(f"{API}/family-members/", {"patient_id": patient.pk}).json()
        embedded = listed[0]["family_conditions"]
        assert [c["id"] for c in embedded] == [condition_id]
        assert {
            "id",
            "condition_name",
            "condition_type",
            "severity",
            "diagnosis_age",
            "status",
            "icd10_code",
            "notes",
        } <= set(embedded[0])
        edited = alice_api.put(
            f"{base}/{condition_id}{query}", {**body, "diagnosis_age": 50}, format="json"
        )
        assert edited.status_code == 200, edited.content
        assert edited.json()["diagnosis_age"] == 50
        assert alice_api.delete(f"{base}/{condition_id}{query}").status_code == 200


class TestSymptomOccurrences:
    BODY = {
        "occurrence_date": "2024-02-03",
        "occurrence_time": "14:30:00",
        "severity": "moderate",
        "pain_scale": 6,
        "duration": "",
        "location": "",
        "impact_level": "",
        "triggers": ["stress"],
        "relief_methods": [],
        "associated_symptoms": [],
        "resolved_date": None,
        "resolved_time": None,
        "resolution_notes": "",
        "notes": "",
    }
    # The reference's fields the contract lacks: stored and answered, not dropped.
    ADDED = ("duration", "resolved_date", "resolved_time", "resolution_notes")

    def test_log_list_edit_delete(self, alice_api, patient):
        symptom = alice_api.post(f"{API}/symptoms/", symptom_body(patient), format="json").json()
        base = f"{API}/symptoms/{symptom['id']}/occurrences"
        created = alice_api.post(base, self.BODY, format="json")
        assert created.status_code == 201, created.content
        occurrence = created.json()
        assert occurrence["occurrence_time"] == "14:30:00"
        assert {key: occurrence[key] for key in self.ADDED} == {
            "duration": "",
            "resolved_date": None,
            "resolved_time": None,
            "resolution_notes": "",
        }
        older = alice_api.post(
            base, {**self.BODY, "occurrence_date": "2024-02-02"}, format="json"
        ).json()
        listed = alice_api.get(base, {"skip": 0, "limit": 100})
        assert listed.status_code == 200
        assert [o["id"] for o in listed.json()] == [occurrence["id"], older["id"]]  # newest first
        resolved = {
            "duration": "3 hours",
            "resolved_date": "2024-02-03",
            "resolved_time": "17:30:00",
            "resolution_notes": "Went away after a nap",
        }
        edited = alice_api.put(
            f"{base}/{occurrence['id']}",
            {**self.BODY, "pain_scale": 3, **resolved},
            format="json",
        )
        assert edited.status_code == 200, edited.content
        assert edited.json()["pain_scale"] == 3
        assert edited.json()["occurrence_time"] == "14:30:00"
        read = alice_api.get(f"{base}/{occurrence['id']}").json()
        assert {key: read[key] for key in self.ADDED} == resolved
        read = alice_api.get(f"{API}/symptoms/{symptom['id']}").json()
        assert read["occurrence_count"] == 2
        assert read["last_occurrence_date"] == "2024-02-03"
        assert alice_api.delete(f"{base}/{occurrence['id']}").status_code == 200

    def test_timeline_lists_occurrences(self, alice_api, patient):
        symptom = alice_api.post(f"{API}/symptoms/", symptom_body(patient), format="json").json()
        occurrence = alice_api.post(
            f"{API}/symptoms/{symptom['id']}/occurrences", self.BODY, format="json"
        ).json()
        response = alice_api.get(
            f"{API}/symptoms/timeline",
            {"patient_id": patient.pk, "start_date": "2024-01-01", "end_date": "2024-12-31"},
        )
        assert response.status_code == 200
        assert response.json() == [
            {
                "date": "2024-02-03",
                "symptom_name": "Headache",
                "severity": "moderate",
                "pain_scale": 6,
                "occurrence_id": occurrence["id"],
                "symptom_id": symptom["id"],
                "resolved_date": None,
                "symptom_status": "active",
            }
        ]


# --- the shared directory (§5.17) ------------------------------------------------------------


class TestDirectory:
    def test_practitioners(self, alice_api):
        specialty, practice = MedicalSpecialtyFactory(), PracticeFactory()
        body = {
            "name": "Dr. Jane Smith",
            "specialty_id": specialty.pk,
            "practice_id": practice.pk,
            "phone_number": None,
            "email": None,
            "website": None,
            "rating": None,
        }
        created = alice_api.post(f"{API}/practitioners/", body, format="json")
        assert created.status_code == 201, created.content
        listed = alice_api.get(f"{API}/practitioners/").json()
        assert {
            "id",
            "name",
            "specialty",
            "specialty_id",
            "specialty_name",
            "practice_id",
            "practice_name",
            "phone_number",
            "email",
            "website",
            "rating",
        } <= set(listed[0])
        assert listed[0]["practice_name"] == practice.name
        item = f"{API}/practitioners/{created.json()['id']}"
        assert alice_api.put(item, {**body, "rating": 4.5}, format="json").status_code == 200
        assert alice_api.delete(item).status_code == 204

    def test_practices(self, alice_api):
        full = {
            "name": "City Clinic",
            "phone_number": None,
            "fax_number": None,
            "website": None,
            "patient_portal_url": None,
            "notes": None,
            "locations": None,
        }
        created = alice_api.post(f"{API}/practices/", full, format="json")
        assert created.status_code == 200, created.content
        quick = alice_api.post(f"{API}/practices/", {"name": "Quick Care"}, format="json")
        assert quick.status_code == 200, quick.content
        listed = alice_api.get(f"{API}/practices/").json()
        assert isinstance(listed, list)
        assert {"id", "name", "practitioner_count"} <= set(listed[0])
        detail = alice_api.get(f"{API}/practices/{created.json()['id']}").json()
        assert {
            "id",
            "name",
            "phone_number",
            "fax_number",
            "website",
            "patient_portal_url",
            "notes",
            "locations",
            "practitioner_count",
        } <= set(detail)
        location = {
            "label": "Main",
            "address": "1 Main St",
            "city": "Springfield",
            "state": "IL",
            "zip": "62701",
            "phone": "555-0100",
        }
        edited = alice_api.put(
            f"{API}/practices/{created.json()['id']}",
            {**full, "locations": [location]},
            format="json",
        )
        assert edited.status_code == 200, edited.content
        assert edited.json()["locations"] == [location]
        assert alice_api.delete(f"{API}/practices/{quick.json()['id']}").status_code in (
            200,
            204,
        )

    def test_specialties_are_an_array(self, alice_api):
        created = alice_api.post(
            f"{API}/medical-specialties/",
            {"name": "Cardiology", "description": None, "is_active": True},
            format="json",
        )
        assert created.status_code == 201, created.content
        assert {"id", "name"} <= set(created.json())
        listed = alice_api.get(f"{API}/medical-specialties/")
        assert listed.status_code == 200 and isinstance(listed.json(), list)
        assert {"id", "name", "description", "is_active"} <= set(listed.json()[0])

    def test_pharmacies(self, alice_api):
        body = {
            "name": "Main Street Pharmacy",
            "brand": "",
            "street_address": "",
            "city": "",
            "state": None,
            "zip_code": None,
            "country": None,
            "store_number": "",
            "phone_number": None,
            "website": None,
            "specialty_services": None,
        }
        created = alice_api.post(f"{API}/pharmacies/", body, format="json")
        assert created.status_code == 201, created.content
        listed = alice_api.get(f"{API}/pharmacies/").json()
        assert {
            "id",
            "name",
            "brand",
            "street_address",
            "city",
            "state",
            "zip_code",
            "country",
            "store_number",
            "phone_number",
            "website",
            "specialty_services",
        } <= set(listed[0])
        item = f"{API}/pharmacies/{created.json()['id']}"
        assert alice_api.put(item, {**body, "brand": "CVS"}, format="json").status_code == 200
        assert alice_api.delete(item).status_code == 204

    def test_directory_needs_a_signed_in_user(self, anon):
        for path in ("practitioners", "practices", "medical-specialties", "pharmacies"):
            assert anon.get(f"{API}/{path}/").status_code == 401, path
