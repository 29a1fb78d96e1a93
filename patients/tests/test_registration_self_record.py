"""Registration creates the user's own patient record and makes it active."""

import datetime

import pytest
from django.utils import timezone

from medikeep.accounts.models import User
from patients.models import Patient
from patients.services import placeholder_birth_date, self_record_for_new_user

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
BODY = {"username": "newbie", "email": "newbie@example.com", "password": "Secure-Pass-123"}


def register(anon, **fields):
    response = anon.post(REGISTER, {**BODY, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json(), User.objects.get(username="newbie")


def test_names_come_from_first_and_last_name(anon):
    body, user = register(anon, first_name="Nina", last_name="Newman")
    patient = Patient.objects.get(owner=user)
    assert (patient.first_name, patient.last_name) == ("Nina", "Newman")
    assert patient.is_self_record is True
    assert user.active_patient_id == patient.pk
    assert body["active_patient_id"] == patient.pk


def test_names_come_from_full_name(anon):
    _, user = register(anon, full_name="Nina Maria Newman")
    patient = Patient.objects.get(owner=user)
    assert (patient.first_name, patient.last_name) == ("Nina", "Maria Newman")


def test_placeholders_without_names(anon):
    _, user = register(anon)
    patient = Patient.objects.get(owner=user)
    assert (patient.first_name, patient.last_name) == ("Update", "Your Name")
    assert patient.birth_date == placeholder_birth_date()
    assert patient.age in (24, 25)


def test_the_new_user_sees_the_record(anon, client_for):
    _, user = register(anon, first_name="Nina", last_name="Newman")
    client = client_for(user)
    me = client.get("/api/v1/patients/me")
    assert me.status_code == 200 and me.json()["first_name"] == "Nina"
    current = client.get("/api/v1/patient-management/active/current").json()
    assert current["id"] == me.json()["id"] and current["permission_level"] == "full"


def test_refused_registration_creates_no_patient(anon):
    response = anon.post(REGISTER, {**BODY, "password": "short"}, format="json")
    assert response.status_code == 422
    assert not Patient.objects.exists() and not User.objects.exists()


def test_creating_the_self_record_twice_keeps_the_first(make_user):
    user = make_user(first_name="Ann", last_name="Lee")
    first = self_record_for_new_user(user=user)
    assert self_record_for_new_user(user=user) == first
    assert Patient.objects.filter(owner=user).count() == 1


def test_placeholder_birth_date_is_25_years_back():
    assert placeholder_birth_date(datetime.date(2026, 3, 1)) == datetime.date(2001, 3, 1)
    assert placeholder_birth_date(datetime.date(2024, 2, 29)) == datetime.date(1999, 2, 28)
    assert placeholder_birth_date() <= timezone.localdate()
