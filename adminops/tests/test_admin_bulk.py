"""/admin/bulk: delete or update many rows; failures listed, the rest applied together."""

from __future__ import annotations

import pytest

from adminops.models import ActivityLog
from medikeep.accounts.models import User
from medikeep.accounts.tests.factories import AdminFactory
from records.models import MedicalSpecialty, Medication
from records.tests.factories import MedicalSpecialtyFactory, MedicationFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

DELETE = "/api/v1/admin/bulk/delete"
UPDATE = "/api/v1/admin/bulk/update"


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


@pytest.mark.parametrize("path", [DELETE, UPDATE])
def test_users_are_refused_and_anonymous_callers_must_sign_in(client_for, alice, anon, path):
    body = {"model_name": "medication", "record_ids": [1], "update_data": {"dosage": "1mg"}}
    assert client_for(alice).post(path, body, format="json").status_code == 403
    assert anon.post(path, body, format="json").status_code == 401


def test_bulk_delete_lists_what_failed_and_applies_the_rest(
    admin_api, django_capture_on_commit_callbacks, admin_user, patient
):
    first, second = MedicationFactory.create_batch(2, patient=patient)
    body = {"model_name": "medication", "record_ids": [first.pk, 999999, second.pk, first.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(DELETE, body, format="json")
    assert response.status_code == 200
    answer = response.json()
    assert answer["success"] is False and answer["affected_records"] == 2
    assert answer["failed_records"] == [{"id": 999999, "error": "No medication with id 999999."}]
    assert "2 of 3" in answer["message"]
    assert not Medication.objects.exists()
    rows = ActivityLog.objects.filter(entity_type="medication", action="deleted")
    assert sorted(rows.values_list("entity_id", flat=True)) == sorted([first.pk, second.pk])
    assert {row.user_id for row in rows} == {admin_user.pk}


def test_bulk_delete_all_good_says_success(admin_api, patient):
    ids = [m.pk for m in MedicationFactory.create_batch(3, patient=patient)]
    answer = admin_api.post(DELETE, {"model_name": "medication", "record_ids": ids}, format="json")
    assert answer.json() == {
        "success": True,
        "affected_records": 3,
        "failed_records": [],
        "message": "Successfully deleted 3 medication records",
    }


def test_a_protected_row_fails_alone(admin_api):
    used, unused = MedicalSpecialtyFactory.create_batch(2)
    PractitionerFactory(specialty=used)
    body = {"model_name": "medical_specialty", "record_ids": [used.pk, unused.pk]}
    answer = admin_api.post(DELETE, body, format="json").json()
    assert answer["affected_records"] == 1
    assert [failure["id"] for failure in answer["failed_records"]] == [used.pk]
    assert "practitioner" in answer["failed_records"][0]["error"]
    assert list(MedicalSpecialty.objects.values_list("pk", flat=True)) == [used.pk]


def test_the_user_guards_hold_in_bulk(admin_api, admin_user, alice):
    body = {"model_name": "user", "record_ids": [admin_user.pk, alice.pk]}
    answer = admin_api.post(DELETE, body, format="json").json()
    assert answer["affected_records"] == 1
    assert answer["failed_records"][0]["id"] == admin_user.pk
    assert "own account" in answer["failed_records"][0]["error"]
    assert list(User.objects.values_list("pk", flat=True)) == [admin_user.pk]


def test_bulk_update_sets_the_values_and_logs_each_row(
    admin_api, django_capture_on_commit_callbacks, patient
):
    ids = [m.pk for m in MedicationFactory.create_batch(3, patient=patient)]
    body = {"model_name": "medication", "record_ids": ids, "update_data": {"status": "stopped"}}
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_api.post(UPDATE, body, format="json").json()
    assert answer["success"] is True and answer["affected_records"] == 3
    assert answer["message"] == "Successfully updated 3 medication records"
    assert set(Medication.objects.values_list("status", flat=True)) == {"stopped"}
    rows = ActivityLog.objects.filter(entity_type="medication", action="updated")
    assert rows.count() == 3
    assert all(row.metadata["after"] == {"status": "stopped"} for row in rows)
    assert all(row.metadata["before"] == {"status": "active"} for row in rows)


def test_bulk_update_reports_rows_that_fail_validation(admin_api, admin_user, alice, bob):
    AdminFactory()
    body = {
        "model_name": "user",
        "record_ids": [alice.pk, admin_user.pk, bob.pk],
        "update_data": {"is_active": "false"},
    }
    answer = admin_api.post(UPDATE, body, format="json").json()
    assert answer["affected_records"] == 2
    assert [failure["id"] for failure in answer["failed_records"]] == [admin_user.pk]
    assert set(User.objects.filter(is_active=False).values_list("pk", flat=True)) == {
        alice.pk,
        bob.pk,
    }


def test_a_value_the_model_refuses_fails_each_row(admin_api, patient):
    medication = MedicationFactory(patient=patient)
    body = {
        "model_name": "medication",
        "record_ids": [medication.pk],
        "update_data": {"status": "nonsense"},
    }
    answer = admin_api.post(UPDATE, body, format="json").json()
    assert answer["affected_records"] == 0 and answer["success"] is False
    assert "status" in answer["failed_records"][0]["error"]
    medication.refresh_from_db()
    assert medication.status == "active"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (DELETE, {"record_ids": [1]}, "model_name"),
        (DELETE, {"model_name": "medication"}, "record_ids"),
        (DELETE, {"model_name": "medication", "record_ids": []}, "record_ids"),
        (DELETE, {"model_name": "medication", "record_ids": "1,2"}, "record_ids"),
        (DELETE, {"model_name": "medication", "record_ids": ["abc", 1]}, "record_ids"),
        (DELETE, {"model_name": "medication", "record_ids": [True]}, "record_ids"),
        (DELETE, {"model_name": "medication", "record_ids": [{"id": 1}]}, "record_ids"),
        (DELETE, {"model_name": "medication", "record_ids": [2**80]}, "record_ids"),
        (DELETE, {"model_name": "medication", "record_ids": list(range(1, 1002))}, "record_ids"),
        (UPDATE, {"model_name": "medication", "record_ids": [1]}, "update_data"),
        (UPDATE, {"model_name": "medication", "record_ids": [1], "update_data": []}, "update_data"),
        (UPDATE, {"model_name": "medication", "record_ids": [1], "update_data": {}}, "update_data"),
    ],
)
def test_bad_bodies_are_a_422(admin_api, path, body, field):
    response = admin_api.post(path, body, format="json")
    assert response.status_code == 422, response.json()
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("update_data", "field"),
    [({"no_such_field": 1}, "no_such_field"), ({"reminder_enabled": [1]}, "reminder_enabled")],
)
def test_unknown_fields_and_bad_types_are_a_422_before_any_row(
    admin_api, patient, update_data, field
):
    medication = MedicationFactory(patient=patient)
    body = {"model_name": "medication", "record_ids": [medication.pk], "update_data": update_data}
    response = admin_api.post(UPDATE, body, format="json")
    assert response.status_code == 422 and field in response.json()["errors"]


def test_an_unknown_model_is_not_found(admin_api):
    body = {"model_name": "user_preference", "record_ids": [1]}
    assert admin_api.post(DELETE, body, format="json").status_code == 404


def test_a_read_only_model_fails_every_row(admin_api):
    row = ActivityLog.objects.create(action="created", entity_type="x", description="d")
    body = {"model_name": "activity_log", "record_ids": [row.pk]}
    answer = admin_api.post(DELETE, body, format="json").json()
    assert answer["affected_records"] == 0
    assert ActivityLog.objects.filter(pk=row.pk).exists()
