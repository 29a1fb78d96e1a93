"""A patient's primary care physician: a practitioner of the shared directory."""

import pytest

from patients.models import Patient
from records.tests.factories import PractitionerFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/patients/me"
MANAGED = "/api/v1/patient-management"
NEW = {"first_name": "Jane", "last_name": "Doe", "birth_date": "2010-05-20"}


def test_the_self_record_takes_a_physician(client_for, bob):
    doctor = PractitionerFactory()
    response = client_for(bob).post(ME, {**NEW, "physician_id": doctor.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["physician_id"] == doctor.pk
    assert Patient.objects.get(owner=bob).physician == doctor


def test_a_managed_patient_takes_changes_and_clears_one(alice_api, patient):
    first, second = PractitionerFactory(), PractitionerFactory()
    created = alice_api.post(MANAGED, {**NEW, "physician_id": first.pk}, format="json")
    assert created.status_code == 201, created.content
    url = f"{MANAGED}/{created.json()['id']}"
    assert alice_api.get(url).json()["physician_id"] == first.pk
    changed = alice_api.put(url, {"physician_id": second.pk}, format="json")
    assert changed.status_code == 200 and changed.json()["physician_id"] == second.pk
    cleared = alice_api.put(url, {"physician_id": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["physician_id"] is None


def test_unknown_physician_is_422_and_changes_nothing(alice_api, patient):
    doctor = PractitionerFactory()
    Patient.objects.filter(pk=patient.pk).update(physician=doctor)
    response = alice_api.put(ME, {"physician_id": 999999, "first_name": "Zed"}, format="json")
    assert response.status_code == 422
    assert "physician_id" in response.json()["errors"]
    patient.refresh_from_db()
    assert patient.physician == doctor and patient.first_name != "Zed"


def test_deleting_the_practitioner_leaves_the_patient(alice_api, patient):
    doctor = PractitionerFactory()
    Patient.objects.filter(pk=patient.pk).update(physician=doctor)
    doctor.delete()
    response = alice_api.get(ME)
    assert response.status_code == 200 and response.json()["physician_id"] is None
