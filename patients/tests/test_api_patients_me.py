"""/patients/me: the signed-in user's own patient record."""

import datetime

import pytest
from django.apps import apps
from django.utils import timezone

from medikeep.accounts.models import User
from patients.choices import RecordAction
from patients.models import Patient
from patients.signals import record_changed
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/patients/me"
NEW = {
    "first_name": "John",
    "last_name": "Doe",
    "birth_date": "1990-01-15",
    "gender": "male",
    "address": "123 Main St, City, State 12345",
    "blood_type": "O+",
    "height": 70,
    "weight": 165,
}


@pytest.fixture
def announced():
    """The record_changed announcements sent during the test (kwargs of each)."""
    calls = []

    def listener(sender, **kwargs):
        calls.append({"sender": sender, **kwargs})

    record_changed.connect(listener, dispatch_uid="test-patients-me")
    yield calls
    record_changed.disconnect(dispatch_uid="test-patients-me")


class TestRead:
    def test_owner_gets_the_self_record(self, alice_api, patient):
        response = alice_api.get(ME)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == patient.pk and body["owner_user_id"] == patient.owner_id
        assert body["is_self_record"] is True and body["age"] == patient.age
        assert body["physician_id"] is None
        # The web app falls back to this answer for its active patient and reads the level
        # from it: without one the owner was treated as a VIEW grantee.
        assert body["permission_level"] == "full" and body["is_owner"] is True
        assert body["privacy_level"] == "owner"

    def test_404_without_a_self_record(self, client_for, bob, shared_patient):
        # A share is not a self-record: bob sees alice's patient elsewhere, not here.
        response = client_for(bob).get(ME)
        assert response.status_code == 404
        assert response.json()["error"] == "Patient record not found"

    def test_anonymous_is_401(self, anon, patient):
        assert anon.get(ME).status_code == 401
        assert anon.put(ME, {"first_name": "X"}, format="json").status_code == 401
        assert anon.delete(ME).status_code == 401
        assert Patient.objects.get(pk=patient.pk).first_name == "Alice"


class TestCreate:
    def test_creates_the_self_record_and_makes_it_active(self, client_for, bob, announced):
        response = client_for(bob).post(ME, NEW, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        patient = Patient.objects.get(pk=body["id"])
        assert patient.owner == bob and patient.is_self_record
        assert (patient.blood_type, patient.height, patient.weight) == ("O+", 70, 165)
        assert body["birth_date"] == "1990-01-15" and body["gender"] == "male"
        assert body["physician_id"] is None
        assert User.objects.get(pk=bob.pk).active_patient_id == patient.pk

    def test_refused_when_a_self_record_exists(self, alice_api, patient):
        response = alice_api.post(ME, NEW, format="json")
        assert response.status_code == 400
        body = response.json()
        assert body["error_code"] == "BIZ-400" and "already exists" in body["error"]
        assert Patient.objects.filter(owner=patient.owner).count() == 1

    def test_aliases_and_normalisation(self, client_for, bob):
        body = {
            "first_name": "Jo",
            "last_name": "Doe",
            "date_of_birth": "2010-05-15",
            "gender": "F",
            "blood_type": "ab-",
            "phone": "+1-555-123-4567",
            "email": "jo@example.com",
            "address": {
                "street": "123 Main St",
                "city": "Anytown",
                "state": "CA",
                "zip_code": "12345",
                "extra": "ignored",
            },
        }
        response = client_for(bob).post(ME, body, format="json")
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["birth_date"] == "2010-05-15"
        assert (data["gender"], data["blood_type"]) == ("female", "AB-")
        assert data["phone_number"] == "+1-555-123-4567"
        assert data["address"] == "123 Main St, Anytown, CA 12345"
        assert data["address_details"] == {
            "street": "123 Main St",
            "city": "Anytown",
            "state": "CA",
            "zip_code": "12345",
        }
        today = timezone.localdate()
        assert data["age"] == today.year - 2010 - ((today.month, today.day) < (5, 15))

    def test_wrapped_body_of_the_second_patients_api(self, client_for, bob):
        wrapped = {
            "patient": {"first_name": "Jo", "last_name": "Doe", "date_of_birth": "2010-05-15"}
        }
        response = client_for(bob).post(ME, wrapped, format="json")
        assert response.status_code == 201, response.content
        assert Patient.objects.get(owner=bob).first_name == "Jo"

    @pytest.mark.parametrize(
        "change, field",
        [
            ({"first_name": ""}, "first_name"),
            ({"birth_date": "not-a-date"}, "birth_date"),
            ({"birth_date": None}, "birth_date"),
            ({"birth_date": "2999-01-01"}, "birth_date"),
            ({"birth_date": "1800-01-01"}, "birth_date"),
            ({"gender": "robot"}, "gender"),
            ({"blood_type": "Z+"}, "blood_type"),
            ({"height": 500}, "height"),
            ({"weight": -3}, "weight"),
            ({"email": "nope"}, "email"),
            ({"address": "abc"}, "address"),
            ({"address": ["a list"]}, "address"),
            ({"address": {"street": "x" * 300}}, "address.street"),
            ({"physician_id": "abc"}, "physician_id"),
            ({"physician_id": 999999}, "physician_id"),  # no such practitioner
        ],
    )
    def test_bad_input_is_422_with_the_field(self, client_for, bob, change, field):
        response = client_for(bob).post(ME, {**NEW, **change}, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not Patient.objects.filter(owner=bob).exists()

    def test_errors_use_the_alias_the_client_sent(self, client_for, bob):
        body = {"first_name": "Jo", "last_name": "Doe", "date_of_birth": "soon"}
        response = client_for(bob).post(ME, body, format="json")
        assert response.status_code == 422
        assert list(response.json()["errors"]) == ["date_of_birth"]

    def test_missing_names_are_422(self, client_for, bob):
        response = client_for(bob).post(ME, {"birth_date": "1990-01-01"}, format="json")
        assert response.status_code == 422
        assert {"first_name", "last_name"} <= set(response.json()["errors"])


class TestUpdate:
    def test_changes_only_the_fields_sent(
        self, alice_api, patient, announced, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_api.put(ME, {"first_name": "Alicia", "gender": "u"}, format="json")
        assert response.status_code == 200, response.content
        patient.refresh_from_db()
        assert (patient.first_name, patient.last_name, patient.gender) == (
            "Alicia",
            "Owner",
            "unknown",
        )
        assert response.json()["first_name"] == "Alicia"
        [call] = announced
        assert call["sender"] is Patient and call["action"] == RecordAction.UPDATED
        assert call["patient_id"] == patient.pk and call["instance"].pk == patient.pk
        assert call["before"]["first_name"] == "Alice" and call["after"]["first_name"] == "Alicia"
        assert call["user"] == patient.owner and call["ip_address"] == "127.0.0.1"

    def test_null_clears_optional_fields(self, alice_api, patient):
        Patient.objects.filter(pk=patient.pk).update(height=60, phone_number="123")
        response = alice_api.put(
            ME, {"height": None, "phone_number": None, "weight": ""}, format="json"
        )
        assert response.status_code == 200, response.content
        patient.refresh_from_db()
        assert (patient.height, patient.phone_number, patient.weight) == (None, "", None)

    def test_text_address_replaces_a_structured_one(self, alice_api, patient):
        structured = {"address": {"street": "1 Elm St", "city": "Springfield"}}
        assert alice_api.put(ME, structured, format="json").status_code == 200
        patient.refresh_from_db()
        assert patient.address == "1 Elm St, Springfield"
        # Sending back the derived line keeps the structure …
        alice_api.put(ME, {"address": "1 Elm St, Springfield"}, format="json")
        patient.refresh_from_db()
        assert patient.address_details == {"street": "1 Elm St", "city": "Springfield"}
        # … another text replaces it.
        alice_api.put(ME, {"address": "2 Oak Avenue"}, format="json")
        patient.refresh_from_db()
        assert (patient.address, patient.address_details) == ("2 Oak Avenue", None)

    def test_is_self_record_and_owner_cannot_change(self, alice_api, patient, bob):
        body = {"is_self_record": False, "owner_user_id": bob.pk, "id": 999}
        assert alice_api.put(ME, body, format="json").status_code == 200
        patient.refresh_from_db()
        assert patient.is_self_record and patient.owner_id == patient.owner.pk

    def test_bad_input_is_422(self, alice_api, patient):
        response = alice_api.put(ME, {"birth_date": "2999-01-01", "height": 0}, format="json")
        assert response.status_code == 422
        assert {"birth_date", "height"} <= set(response.json()["errors"])
        assert Patient.objects.get(pk=patient.pk).birth_date == patient.birth_date

    def test_404_without_a_self_record(self, client_for, bob):
        response = client_for(bob).put(ME, {"first_name": "Bob"}, format="json")
        assert response.status_code == 404


class TestDelete:
    def test_deletes_the_record_and_its_medical_records(
        self,
        alice_api,
        alice,
        shared_patient,
        bob,
        announced,
        django_capture_on_commit_callbacks,
    ):
        medication = apps.get_model("records", "Medication")
        medication.objects.create(patient=shared_patient, medication_name="Aspirin")
        other = PatientFactory(owner=alice, first_name="Kid")
        User.objects.filter(pk=bob.pk).update(active_patient=shared_patient)
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_api.delete(ME)
        assert response.status_code == 200
        assert response.json() == {
            "message": "Patient record and all associated medical records deleted successfully"
        }
        assert not Patient.objects.filter(pk=shared_patient.pk).exists()
        assert not medication.objects.exists()
        # alice falls back to her remaining patient; bob's pointer was cleared.
        assert User.objects.get(pk=alice.pk).active_patient_id == other.pk
        assert User.objects.get(pk=bob.pk).active_patient_id is None
        [call] = announced
        assert call["action"] == RecordAction.DELETED and call["after"] is None
        assert call["instance"].pk == call["patient_id"] == shared_patient.pk
        assert call["ip_address"] == "127.0.0.1"

    def test_the_last_patient_may_go_here(self, alice_api, alice, patient):
        assert alice_api.delete(ME).status_code == 200
        assert not Patient.objects.exists()
        assert User.objects.get(pk=alice.pk).active_patient_id is None
        assert alice_api.get(ME).status_code == 404

    def test_404_without_a_self_record(self, client_for, carol, shared_patient):
        assert client_for(carol).delete(ME).status_code == 404
        assert Patient.objects.filter(pk=shared_patient.pk).exists()


def test_create_is_announced(client_for, bob, announced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(bob).post(ME, NEW, format="json")
    [call] = announced
    assert call["action"] == RecordAction.CREATED and call["user"] == bob
    assert call["patient_id"] == response.json()["id"] and call["before"] is None
    assert call["after"]["birth_date"] == datetime.date(1990, 1, 15)
