"""The patient calls of MediKeep's web app (web-client-api.md §4), with the app's own bodies."""

import pytest

from patients.models import Patient
from patients.tests.factories import PatientFactory, PatientShareFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/patient-management"
# What the app's patient form sends: every field, "" for empty text and selects, null numbers.
APP_CREATE = {
    "first_name": "Jane",
    "last_name": "Doe",
    "birth_date": "2010-05-20",
    "gender": "",
    "blood_type": "",
    "height": None,
    "weight": None,
    "address": "",
    "physician_id": None,
    "is_self_record": False,
    "relationship_to_self": "",
}
# Fields the app reads from every patient object (Patient+).
PATIENT_PLUS = {
    "id",
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "blood_type",
    "height",
    "weight",
    "address",
    "physician_id",
    "relationship_to_self",
    "is_self_record",
    "owner_user_id",
    "permission_level",
    "privacy_level",
}


class TestList:
    def test_the_apps_call_answers_what_it_reads(self, client_for, alice, bob, shared_patient):
        own = PatientFactory(owner=bob, relationship_to_self="self")
        response = client_for(bob).get(f"{BASE}/", {"permission": "view"})
        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["total_count"]) == (2, 2)
        assert (body["owned_count"], body["shared_count"]) == (1, 1)
        by_id = {p["id"]: p for p in body["patients"]}
        for item in by_id.values():
            assert set(item) >= PATIENT_PLUS
            assert type(item["owner_user_id"]) is int
        assert by_id[own.pk]["owner_user_id"] == bob.pk
        assert by_id[own.pk]["permission_level"] == "full"
        assert by_id[shared_patient.pk]["owner_user_id"] == alice.pk
        assert by_id[shared_patient.pk]["permission_level"] == "view"

    def test_the_owner_is_never_answered_as_a_grantee(self, client_for, alice, shared_patient):
        # Every patient answer the app may take for its active patient says the owner is
        # the owner (integer owner_user_id and level "full"), so it is never badged "shared".
        client = client_for(alice)
        answers = [
            client.get(f"{BASE}/", {"permission": "view"}).json()["patients"][0],
            client.get(f"{BASE}/active/current").json(),
            client.get("/api/v1/patients/me").json(),
            client.post(f"{BASE}/switch", {"patient_id": shared_patient.pk}, format="json").json(),
            client.get(f"{BASE}/{shared_patient.pk}").json(),
        ]
        for answer in answers:
            assert answer["owner_user_id"] == alice.pk
            assert answer["permission_level"] == "full" and answer["is_owner"] is True

    @pytest.mark.parametrize(
        "persona, levels",
        [
            ("bob", {"view": 1, "edit": 0, "full": 0}),
            ("carol", {"view": 1, "edit": 1, "full": 0}),
            ("dave", {"view": 1, "edit": 1, "full": 1}),
            ("alice", {"view": 1, "edit": 1, "full": 1}),
        ],
    )
    def test_permission_keeps_patients_held_at_least_at_that_level(
        self, request, client_for, shared_patient, persona, levels
    ):
        client = client_for(request.getfixturevalue(persona))
        for level, count in levels.items():
            body = client.get(f"{BASE}/", {"permission": level}).json()
            assert (len(body["patients"]), body["total_count"]) == (count, count), level

    def test_unknown_permission_is_422(self, client_for, bob, shared_patient):
        response = client_for(bob).get(f"{BASE}/", {"permission": "owner"})
        assert response.status_code == 422
        assert "permission" in response.json()["errors"]


class TestWrites:
    def test_create_and_update_with_the_apps_bodies(self, client_for, alice, shared_patient):
        client = client_for(alice)
        created = client.post(f"{BASE}/", APP_CREATE, format="json")
        assert created.status_code == 201, created.content
        patient_id = created.json()["id"]
        # The edit form sends the same fields plus a stray id, "" for cleared numbers.
        body = {**APP_CREATE, "id": patient_id, "height": "", "weight": "", "gender": "F"}
        updated = client.put(f"{BASE}/{patient_id}", body, format="json")
        assert updated.status_code == 200, updated.content
        patient = Patient.objects.get(pk=patient_id)
        assert (patient.height, patient.weight, patient.gender) == (None, None, "female")
        assert (patient.blood_type, patient.address) == ("", "")
        answer = updated.json()
        assert answer["permission_level"] == "full" and answer["owner_user_id"] == alice.pk

    def test_view_grantee_cannot_update(self, client_for, bob, shared_patient):
        body = {**APP_CREATE, "id": shared_patient.pk}
        response = client_for(bob).put(f"{BASE}/{shared_patient.pk}", body, format="json")
        assert response.status_code == 403


class TestActivePatient:
    def test_switch_then_current(self, client_for, alice, bob, shared_patient):
        client = client_for(bob)
        assert client.get(f"{BASE}/active/current").content == b"null"
        switched = client.post(f"{BASE}/switch", {"patient_id": shared_patient.pk}, format="json")
        assert switched.status_code == 200
        assert switched.json()["permission_level"] == "view"
        current = client.get(f"{BASE}/active/current").json()
        assert current["id"] == shared_patient.pk and current["owner_user_id"] == alice.pk

    def test_patients_me_for_a_user_without_one_is_404(self, client_for, mallory):
        assert client_for(mallory).get("/api/v1/patients/me").status_code == 404


class TestDashboardStats:
    KEYS = {"total_records", "active_medications", "total_lab_results", "total_procedures"}

    def test_with_and_without_patient_id(self, client_for, carol, shared_patient):
        other = PatientFactory()
        PatientShareFactory(patient=other, grantee=carol, level="view")
        client = client_for(carol)
        client.post(f"{BASE}/switch", {"patient_id": other.pk}, format="json")
        default = client.get("/api/v1/patients/me/dashboard-stats")
        chosen = client.get(
            "/api/v1/patients/me/dashboard-stats", {"patient_id": shared_patient.pk}
        )
        assert default.status_code == chosen.status_code == 200
        assert set(default.json()) >= self.KEYS and set(chosen.json()) >= self.KEYS
        assert default.json()["patient_id"] == other.pk
        assert chosen.json()["patient_id"] == shared_patient.pk

    def test_a_stranger_is_403(self, client_for, mallory, shared_patient):
        response = client_for(mallory).get(
            "/api/v1/patients/me/dashboard-stats", {"patient_id": shared_patient.pk}
        )
        assert response.status_code == 403
