"""Operators' changes in the activity log: made in the Django admin or through the admin API,
by one path (the ModelAdmin's LogEntry, adminops/audit.py)."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.contrib.admin.models import LogEntry
from django.db import transaction

from adminops.models import ActivityLog
from records.models import Medication, Practitioner
from records.tests.factories import MedicalSpecialtyFactory, MedicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs a request, then its on-commit callbacks, as a real request's commit would."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def admin_form_data(page) -> dict:
    """What a browser would post back from a Django admin change page, unchanged."""
    data: dict = {}

    def add(form):
        for name, field in form.fields.items():
            key, value = form.add_prefix(name), form[name].value()
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
            elif isinstance(field.widget, forms.MultiWidget):
                for index, part in enumerate(field.widget.decompress(value)):
                    data[f"{key}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, list | tuple):
                data[key] = [str(item) for item in value]
            else:
                data[key] = "" if value is None else str(value)

    add(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def test_an_operators_edit_in_the_django_admin_shows_in_the_patients_log(
    admin_client, committed, admin_user, client_for, alice, patient
):
    medication = MedicationFactory(patient=patient, dosage="10mg")
    url = f"/admin/records/medication/{medication.pk}/change/"
    data = {**admin_form_data(admin_client.get(url)), "dosage": "20mg", "_save": "Save"}
    response = committed(admin_client.post, url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    medication.refresh_from_db()
    assert medication.dosage == "20mg"

    row = ActivityLog.objects.get(entity_type="medication", entity_id=medication.pk)
    assert row.action == "updated" and row.patient_id == patient.pk
    assert row.user.username == admin_user.username == "root"
    assert row.metadata["after"]["dosage"] == "20mg"
    # The owner sees the operator's change among her patient's activity.
    recent = client_for(alice).get("/api/v1/patients/recent-activity", {"patient_id": patient.pk})
    assert [(item["entity_id"], item["action"], item["user_id"]) for item in recent.json()] == [
        (medication.pk, "updated", admin_user.pk)
    ]


def test_additions_and_deletions_in_the_django_admin_are_logged(
    admin_client, committed, admin_user, patient
):
    specialty = MedicalSpecialtyFactory()
    add_url = "/admin/records/practitioner/add/"
    data = {**admin_form_data(admin_client.get(add_url)), "name": "Dr. Who"}
    data.update({"specialty": str(specialty.pk), "_save": "Save"})
    response = committed(admin_client.post, add_url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    practitioner = Practitioner.objects.get(name="Dr. Who")
    created = ActivityLog.objects.get(entity_type="practitioner", entity_id=practitioner.pk)
    assert created.action == "created" and created.user == admin_user
    assert created.metadata["after"]["name"] == "Dr. Who"

    medication = MedicationFactory(patient=patient, medication_name="Warfarin")
    delete_url = f"/admin/records/medication/{medication.pk}/delete/"
    assert committed(admin_client.post, delete_url, {"post": "yes"}).status_code == 302
    deleted = ActivityLog.objects.get(entity_type="medication", entity_id=medication.pk)
    assert deleted.action == "deleted" and deleted.user == admin_user
    assert deleted.patient_id == patient.pk
    assert deleted.metadata["before"]["medication_name"] == "Warfarin"


def test_delete_selected_in_the_django_admin_logs_every_row(
    admin_client, committed, admin_user, patient
):
    medications = MedicationFactory.create_batch(3, patient=patient)
    data = {
        "action": "delete_selected",
        "_selected_action": [str(m.pk) for m in medications[:2]],
        "post": "yes",
    }
    response = committed(admin_client.post, "/admin/records/medication/", data)
    assert response.status_code == 302
    assert list(Medication.objects.values_list("pk", flat=True)) == [medications[2].pk]
    rows = ActivityLog.objects.filter(entity_type="medication", action="deleted")
    assert sorted(rows.values_list("entity_id", flat=True)) == sorted(m.pk for m in medications[:2])
    assert {row.user_id for row in rows} == {admin_user.pk}
    # Django's own history has one entry per row too.
    assert LogEntry.objects.filter(action_flag=3).count() == 2


def test_a_password_change_in_the_django_admin_leaves_no_hash_in_the_log(
    admin_client, committed, alice
):
    url = f"/admin/accounts/user/{alice.pk}/password/"
    data = {"password1": "Fresh-horse-55", "password2": "Fresh-horse-55", "usable_password": "true"}
    assert committed(admin_client.post, url, data).status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Fresh-horse-55")
    row = ActivityLog.objects.get(entity_type="user", entity_id=alice.pk)
    assert "password" not in row.metadata["after"]
    assert alice.password not in json.dumps(row.metadata)


def test_api_changes_carry_before_and_after_and_the_address(
    client_for, committed, admin_user, patient
):
    medication = MedicationFactory(patient=patient, dosage="10mg")
    api = client_for(admin_user)
    path = f"/api/v1/admin/models/medication/{medication.pk}"
    response = committed(api.put, path, {"dosage": "5mg"}, format="json", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    row = ActivityLog.objects.get(entity_type="medication", entity_id=medication.pk)
    assert row.user == admin_user and row.ip_address == "10.1.2.3"
    assert row.metadata == {
        "before": {"dosage": "10mg"},
        "after": {"dosage": "5mg"},
        "changed": ["dosage"],
    }
    # The Django admin's history shows the API's change as well.
    entry = LogEntry.objects.get(object_id=str(medication.pk))
    assert entry.user == admin_user and entry.is_change()


def test_an_unchanged_update_writes_nothing(client_for, committed, admin_user, patient):
    medication = MedicationFactory(patient=patient, dosage="10mg")
    api = client_for(admin_user)
    path = f"/api/v1/admin/models/medication/{medication.pk}"
    assert committed(api.put, path, {"dosage": "10mg"}, format="json").status_code == 200
    assert not ActivityLog.objects.exists() and not LogEntry.objects.exists()


def test_reset_password_is_logged_without_the_password(client_for, committed, admin_user, alice):
    api = client_for(admin_user)
    path = f"/api/v1/admin/models/users/{alice.pk}/reset-password"
    assert (
        committed(api.post, path, {"new_password": "Brand-new-pass-7"}, format="json").status_code
        == 200
    )
    row = ActivityLog.objects.get(entity_type="user", entity_id=alice.pk)
    assert row.action == "updated" and row.user == admin_user
    alice.refresh_from_db()
    assert alice.password not in json.dumps(row.metadata)
    assert "Brand-new-pass-7" not in json.dumps(row.metadata)


def test_a_change_rolled_back_leaves_no_activity_row(
    admin_client, django_capture_on_commit_callbacks, admin_user, patient
):
    from django.contrib import admin

    medication = MedicationFactory(patient=patient)
    model_admin = admin.site._registry[Medication]

    class Request:
        user = admin_user

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        model_admin.log_change(Request(), medication, "changed")
        raise RuntimeError("the change failed")
    assert not ActivityLog.objects.exists()


def test_a_row_with_a_text_key_is_logged_too(client_for, committed, admin_user):
    api = client_for(admin_user)
    body = {"key": "allow_user_registration", "value": False}
    response = committed(api.post, "/api/v1/admin/models/system_setting/", body, format="json")
    assert response.status_code == 201, response.json()
    row = ActivityLog.objects.get(entity_type="system_setting")
    assert row.action == "created" and row.entity_id is None and row.user == admin_user
    assert "allow_user_registration" in row.description
    path = "/api/v1/admin/models/system_setting/allow_user_registration"
    assert api.get(path).json() == {**response.json()}


def test_deleting_a_patient_keeps_only_the_deletion_row(client_for, committed, admin_user, patient):
    medication = MedicationFactory(patient=patient)
    api = client_for(admin_user)
    path = f"/api/v1/admin/models/medication/{medication.pk}"
    committed(api.put, path, {"dosage": "1mg"}, format="json")
    assert ActivityLog.objects.filter(patient=patient).count() == 1
    response = committed(api.delete, f"/api/v1/admin/models/patient/{patient.pk}")
    assert response.status_code == 200
    rows = list(ActivityLog.objects.values("entity_type", "action", "patient_id", "metadata"))
    # The patient's medical history goes with it; one line without data says who deleted it.
    assert rows == [
        {"entity_type": "patient", "action": "deleted", "patient_id": None, "metadata": {}}
    ]
    assert ActivityLog.objects.get().user == admin_user
