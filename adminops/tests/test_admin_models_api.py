"""/admin/models: the Django admin's registry as an API (web-client-api.md §16.2, §16.3)."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from adminops import admin_records
from adminops.models import ActivityLog
from medikeep.accounts.models import User
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory
from medikeep.api.exceptions import BusinessRuleError
from patients.models import Patient
from patients.tests.factories import PatientFactory
from records.models import MedicalSpecialty, Medication
from records.tests.factories import (
    AllergyFactory,
    MedicalSpecialtyFactory,
    MedicationFactory,
    PractitionerFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/admin/models"


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


# --- who may call -----------------------------------------------------------------------------

ENDPOINTS = [
    ("get", f"{BASE}/"),
    ("get", f"{BASE}/medication/metadata"),
    ("get", f"{BASE}/medication/"),
    ("post", f"{BASE}/medication/"),
    ("get", f"{BASE}/medication/export"),
    ("get", f"{BASE}/medication/1"),
    ("put", f"{BASE}/medication/1"),
    ("delete", f"{BASE}/medication/1"),
    ("post", f"{BASE}/users/1/reset-password"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_users_are_refused_and_anonymous_callers_must_sign_in(
    client_for, alice, anon, method, path
):
    assert getattr(client_for(alice), method)(path, {}, format="json").status_code == 403
    assert getattr(anon, method)(path, {}, format="json").status_code == 401


# --- the registry ---------------------------------------------------------------------------


def test_the_models_are_those_of_the_django_admin(admin_api):
    from django.contrib import admin

    response = admin_api.get(f"{BASE}/")
    assert response.status_code == 200
    names = [model["name"] for model in response.json()]
    assert len(names) == len(admin.site._registry)
    for name in ("user", "patient", "medication", "lab_result", "entity_file", "vitals"):
        assert name in names
    medication = next(m for m in response.json() if m["name"] == "medication")
    assert medication["display_name"] == "Medication"
    assert medication["verbose_name_plural"] == "Medications"
    assert medication["description"].startswith("A medication the patient takes")


@pytest.mark.parametrize("name", ["user_preference", "no_such_model", "Medication", "ActivityLog"])
def test_a_model_outside_the_admin_is_not_found(admin_api, name):
    assert admin_api.get(f"{BASE}/{name}/").status_code == 404
    assert admin_api.get(f"{BASE}/{name}/metadata").status_code == 404


def test_metadata_describes_fields_types_choices_and_foreign_keys(admin_api):
    response = admin_api.get(f"{BASE}/medication/metadata")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "medication" and body["table_name"] == Medication._meta.db_table
    fields = {field["name"]: field for field in body["fields"]}
    assert fields["id"]["primary_key"] is True and fields["id"]["type"] == "integer"
    assert fields["medication_name"]["type"] == "string"
    assert fields["medication_name"]["max_length"] == 100
    assert fields["medication_name"]["nullable"] is False
    # "nullable" is what the web app's form reads as optional: blank text and defaults too.
    assert fields["alternative_name"]["nullable"] is True
    assert fields["reminder_enabled"]["nullable"] is True
    assert "active" in fields["status"]["choices"]
    assert fields["patient_id"]["foreign_key"] == "patients_patient.id"
    assert fields["effective_period_start"]["type"] == "date"
    assert fields["created_at"]["type"] == "datetime" and fields["created_at"]["editable"] is False
    assert fields["reminder_enabled"]["type"] == "boolean"
    assert body["relationships"]["patient"] == "Patient"
    assert "medication_name" in body["search_fields"]


def test_metadata_never_offers_credentials(admin_api):
    user_fields = {f["name"]: f for f in admin_api.get(f"{BASE}/user/metadata").json()["fields"]}
    # The web app's user form turns a "password" entry into its reset button; no hash is given.
    assert user_fields["password"]["write_only"] is True
    assert user_fields["password"]["editable"] is False
    assert user_fields["must_change_password"]["type"] == "boolean"
    channel = admin_api.get(f"{BASE}/notification_channel/metadata").json()
    assert "config_encrypted" not in {f["name"] for f in channel["fields"]}
    # Refresh-token bookkeeping is not in the Django admin, so not here either.
    assert admin_api.get(f"{BASE}/outstanding_token/metadata").status_code == 404


# --- reading rows ---------------------------------------------------------------------------


def test_the_user_page_gets_the_first_page_without_a_query(admin_api, make_user):
    make_user.create_batch(3)
    response = admin_api.get(f"{BASE}/user/")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 4 and body["page"] == 1 and body["per_page"] == 25
    assert body["total_pages"] == 1
    row = body["items"][0]
    for key in ("id", "username", "email", "full_name", "role", "is_active", "auth_method"):
        assert key in row
    assert "last_login_at" in row and "created_at" in row
    assert "password" not in row


def test_pages_are_ordered_and_do_not_overlap(admin_api, patient):
    MedicationFactory.create_batch(5, patient=patient)
    first = admin_api.get(f"{BASE}/medication/", {"page": 1, "per_page": 2}).json()
    second = admin_api.get(f"{BASE}/medication/", {"page": 2, "per_page": 2}).json()
    third = admin_api.get(f"{BASE}/medication/", {"page": 3, "per_page": 2}).json()
    ids = [row["id"] for page in (first, second, third) for row in page["items"]]
    assert len(ids) == 5 == len(set(ids)) == first["total"]
    assert first["total_pages"] == 3
    assert admin_api.get(f"{BASE}/medication/", {"page": 9}).json()["items"] == []


def test_per_page_is_capped_at_100(admin_api):
    assert admin_api.get(f"{BASE}/user/", {"per_page": 1000}).json()["per_page"] == 100


@pytest.mark.parametrize(
    "query",
    [{"page": 0}, {"page": "two"}, {"per_page": 0}, {"per_page": "-3"}, {"search": "x" * 201}],
)
def test_bad_paging_is_a_422(admin_api, query):
    response = admin_api.get(f"{BASE}/user/", query)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == set(query)


def test_a_nul_in_the_search_is_refused(admin_api):
    assert admin_api.get(f"{BASE}/user/", {"search": "a\x00b"}).status_code in (400, 422)


def test_search_uses_the_model_admins_search_fields(admin_api, patient):
    MedicationFactory(patient=patient, medication_name="Lisinopril")
    MedicationFactory(patient=patient, medication_name="Aspirin", alternative_name="ASA")
    found = admin_api.get(f"{BASE}/medication/", {"search": "asa"}).json()
    assert [row["medication_name"] for row in found["items"]] == ["Aspirin"]
    by_patient = admin_api.get(f"{BASE}/medication/", {"search": "Owner"}).json()
    assert by_patient["total"] == 2  # patient__last_name is one of the admin's fields


def test_a_model_without_search_fields_says_so(admin_api):
    response = admin_api.get(f"{BASE}/standardized_test_load/", {"search": "x"})
    assert response.status_code == 422 and "search" in response.json()["errors"]


def test_rows_cost_the_same_queries_for_2_and_20(admin_api, patient):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_api.get(f"{BASE}/medication/").status_code == 200
        return len(captured)

    MedicationFactory.create_batch(2, patient=patient)
    few = queries()
    MedicationFactory.create_batch(18, patient=patient)
    assert queries() == few


def test_one_row_with_foreign_keys_as_ids(admin_api, patient):
    medication = MedicationFactory(patient=patient)
    response = admin_api.get(f"{BASE}/medication/{medication.pk}")
    assert response.status_code == 200
    assert response.json()["patient_id"] == patient.pk
    assert response.json()["medication_name"] == medication.medication_name


@pytest.mark.parametrize("record_id", ["999999", "abc", "1.5", str(2**70), "-1"])
def test_unknown_ids_are_not_found(admin_api, record_id):
    assert admin_api.get(f"{BASE}/medication/{record_id}").status_code == 404
    assert admin_api.put(f"{BASE}/medication/{record_id}", {}, format="json").status_code == 404
    assert admin_api.delete(f"{BASE}/medication/{record_id}").status_code == 404


def test_a_user_row_never_shows_the_password(admin_api, alice):
    body = admin_api.get(f"{BASE}/user/{alice.pk}").json()
    assert body["username"] == "alice"
    assert not any("password" in key and key != "must_change_password" for key in body)
    assert alice.password not in str(body)


# --- export ---------------------------------------------------------------------------------


def test_export_streams_csv_with_the_search(admin_api, patient):
    MedicationFactory(patient=patient, medication_name="Aspirin", notes='=HYPERLINK("x")')
    MedicationFactory(patient=patient, medication_name="Lisinopril")
    # The web app adds format=csv (which DRF would otherwise read as a renderer to pick).
    response = admin_api.get(f"{BASE}/medication/export", {"search": "aspirin", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["medication_name"] for row in rows] == ["Aspirin"]
    assert rows[0]["patient_id"] == str(patient.pk)
    assert rows[0]["notes"] == '\'=HYPERLINK("x")'  # a spreadsheet must not run it


def test_user_export_has_no_password_column(admin_api, alice):
    response = admin_api.get(f"{BASE}/user/export", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    header = text.splitlines()[0].split(",")
    assert "password" not in header and "username" in header
    assert alice.password not in text


# --- create ---------------------------------------------------------------------------------


def test_create_validates_and_answers_201(admin_api, committed, admin_user, patient):
    body = {
        "medication_name": "Aspirin",
        "patient_id": str(patient.pk),  # web forms send numbers as text
        "status": "active",
        "effective_period_start": "2024-01-02",
        "effective_period_end": "",
        "id": 77,  # read-only columns sent back by a form are ignored
        "created_at": "2020-01-01T00:00:00Z",
    }
    response = committed(admin_api.post, f"{BASE}/medication/", body, format="json")
    assert response.status_code == 201, response.json()
    created = Medication.objects.get(pk=response.json()["id"])
    assert created.patient_id == patient.pk and created.effective_period_end is None
    assert created.created_at.year > 2020  # the sent timestamp was not taken
    row = ActivityLog.objects.get(entity_type="medication", entity_id=created.pk)
    assert row.action == "created" and row.user == admin_user and row.patient_id == patient.pk


def test_the_create_forms_empty_values_mean_blank_or_the_default(admin_api, patient):
    # What the web app's create form sends for fields left alone: null for booleans, "" or
    # null for the rest.
    body = {
        "medication_name": "Aspirin",
        "patient_id": patient.pk,
        "alternative_name": None,
        "dosage": "",
        "reminder_enabled": None,
        "status": "",
        "effective_period_start": "",
    }
    response = admin_api.post(f"{BASE}/medication/", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["alternative_name"] == "" and created["dosage"] == ""
    assert created["reminder_enabled"] is False and created["status"] == "active"
    emptied = admin_api.put(
        f"{BASE}/medication/{created['id']}", {"reminder_enabled": None}, format="json"
    )
    assert emptied.status_code == 422 and "reminder_enabled" in emptied.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"medication_name": "Aspirin", "no_such_field": 1}, "no_such_field"),
        ({"medication_name": ""}, "medication_name"),
        ({"medication_name": ["Aspirin"]}, "medication_name"),
        (
            {"medication_name": "Aspirin", "effective_period_start": "soon"},
            "effective_period_start",
        ),
        ({"medication_name": "Aspirin", "status": "nonsense"}, "status"),
        ({"medication_name": "Aspirin", "reminder_enabled": "perhaps"}, "reminder_enabled"),
        ({"medication_name": "Aspirin", "patient_id": 10**30}, "patient_id"),
        ({"medication_name": "Aspirin", "patient_id": 1.5}, "patient_id"),
        ({"medication_name": "Aspirin", "patient_id": True}, "patient_id"),
        ({"medication_name": "Aspirin", "patient_id": 999999}, "patient"),
        ({"medication_name": "A"}, "medication_name"),
    ],
)
def test_bad_bodies_are_a_422_naming_the_field(admin_api, patient, body, field):
    body = {"patient_id": patient.pk, **body}
    response = admin_api.post(f"{BASE}/medication/", body, format="json")
    assert response.status_code == 422, response.json()
    assert field in response.json()["errors"]
    assert not Medication.objects.exists()


@pytest.mark.parametrize("body", [[], "text", None, 5])
def test_a_body_that_is_not_an_object_is_a_422(admin_api, body):
    response = admin_api.post(f"{BASE}/medication/", body, format="json")
    assert response.status_code in (400, 422)


def test_a_record_cannot_point_at_another_patients_record(admin_api, patient):
    allergy = AllergyFactory(patient=patient)
    stranger_medication = MedicationFactory(patient=PatientFactory())
    response = admin_api.put(
        f"{BASE}/allergy/{allergy.pk}", {"medication_id": stranger_medication.pk}, format="json"
    )
    assert response.status_code == 422
    assert "medication_id" in response.json()["errors"]


def test_what_the_admin_forbids_the_api_forbids(admin_api, patient):
    response = admin_api.post(f"{BASE}/activity_log/", {"action": "x"}, format="json")
    assert response.status_code == 403
    row = ActivityLog.objects.create(action="created", entity_type="x", description="d")
    assert admin_api.put(f"{BASE}/activity_log/{row.pk}", {}, format="json").status_code == 403
    assert admin_api.delete(f"{BASE}/activity_log/{row.pk}").status_code == 403
    assert admin_api.get(f"{BASE}/activity_log/{row.pk}").status_code == 200


def test_a_user_is_created_with_a_checked_hashed_password(admin_api):
    body = {"username": "Newbie", "email": "new@example.test", "role": "user", "password": "weak"}
    refused = admin_api.post(f"{BASE}/user/", body, format="json")
    assert refused.status_code == 422 and "password" in refused.json()["errors"]
    body["password"] = "Sturdy-pass-91"
    response = admin_api.post(f"{BASE}/user/", body, format="json")
    assert response.status_code == 201
    assert response.json()["username"] == "newbie" and "password" not in response.json()
    assert User.objects.get(username="newbie").check_password("Sturdy-pass-91")


def test_a_duplicate_username_is_refused(admin_api, alice):
    body = {"username": "ALICE", "email": "other@example.test", "password": "Sturdy-pass-91"}
    response = admin_api.post(f"{BASE}/user/", body, format="json")
    assert response.status_code in (409, 422)


# --- update ---------------------------------------------------------------------------------


def test_the_user_pages_changes(admin_api, alice):
    for change in ({"is_active": False}, {"role": "admin"}, {"must_change_password": True}):
        response = admin_api.put(f"{BASE}/user/{alice.pk}", change, format="json")
        assert response.status_code == 200, response.json()
        key, value = next(iter(change.items()))
        assert response.json()[key] == value
    alice.refresh_from_db()
    assert not alice.is_active and alice.is_admin and alice.must_change_password


def test_the_edit_form_may_send_the_whole_row_back(admin_api, patient):
    medication = MedicationFactory(patient=patient)
    row = admin_api.get(f"{BASE}/medication/{medication.pk}").json()
    row["dosage"] = "20mg"
    response = admin_api.put(f"{BASE}/medication/{medication.pk}", row, format="json")
    assert response.status_code == 200, response.json()
    medication.refresh_from_db()
    assert medication.dosage == "20mg"


def test_passwords_are_never_written_by_update(admin_api, alice):
    old_hash = alice.password
    response = admin_api.put(f"{BASE}/user/{alice.pk}", {"password": "x"}, format="json")
    assert response.status_code == 422
    assert "reset-password" in response.json()["errors"]["password"][0]
    alice.refresh_from_db()
    assert alice.password == old_hash


def test_you_cannot_demote_or_deactivate_yourself(admin_api, admin_user):
    AdminFactory()  # another admin: the refusal is about yourself, not the last admin
    for change in ({"role": "user"}, {"is_active": False}):
        response = admin_api.put(f"{BASE}/user/{admin_user.pk}", change, format="json")
        assert response.status_code == 400
    admin_user.refresh_from_db()
    assert admin_user.is_admin and admin_user.is_active


def test_the_last_active_admin_is_not_demoted(rf, admin_user):
    from adminops.registry import admin_model

    AdminFactory(is_active=False)  # an inactive admin does not count
    request = rf.put("/")
    # A caller other than admin_user (say, one deleted meanwhile): only the service's guard
    # stands between us and no active admin at all.
    request.user = User(pk=10**6, role="admin", is_superuser=True)
    with pytest.raises(BusinessRuleError):
        admin_records.record_update(
            entry=admin_model("user"), request=request, obj=admin_user, data={"role": "user"}
        )


def test_an_sso_account_cannot_be_forced_to_change_a_password(admin_api, make_user):
    sso = make_user(auth_method="sso")
    response = admin_api.put(f"{BASE}/user/{sso.pk}", {"must_change_password": True}, format="json")
    assert response.status_code == 422


# --- delete ---------------------------------------------------------------------------------


def test_delete_answers_the_id_and_what_went(admin_api, committed, admin_user, patient):
    medication = MedicationFactory(patient=patient)
    response = committed(admin_api.delete, f"{BASE}/medication/{medication.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["deleted_id"] == medication.pk and body["deleted"] == {"medication": 1}
    assert body["message"] == f"medication record {medication.pk} deleted successfully"
    assert not Medication.objects.filter(pk=medication.pk).exists()
    row = ActivityLog.objects.get(entity_type="medication", entity_id=medication.pk)
    assert row.action == "deleted" and row.user == admin_user
    assert row.metadata["before"]["medication_name"] == medication.medication_name


def test_a_dry_run_says_what_would_cascade_and_deletes_nothing(admin_api, patient):
    MedicationFactory.create_batch(2, patient=patient)
    response = admin_api.delete(f"{BASE}/patient/{patient.pk}", QUERY_STRING="dry_run=true")
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True and body["can_delete"] is True
    assert body["would_delete"]["patient"] == 1 and body["would_delete"]["medication"] == 2
    assert Patient.objects.filter(pk=patient.pk).exists()
    bad = admin_api.delete(f"{BASE}/patient/{patient.pk}", QUERY_STRING="dry_run=maybe")
    assert bad.status_code == 422


def test_a_protected_row_is_a_409_naming_what_protects_it(admin_api):
    specialty = MedicalSpecialtyFactory()
    PractitionerFactory(specialty=specialty)
    response = admin_api.delete(f"{BASE}/medical_specialty/{specialty.pk}")
    assert response.status_code == 409
    assert "1 practitioner" in response.json()["message"]
    assert MedicalSpecialty.objects.filter(pk=specialty.pk).exists()
    preview = admin_api.delete(
        f"{BASE}/medical_specialty/{specialty.pk}", QUERY_STRING="dry_run=1"
    ).json()
    assert preview["can_delete"] is False and preview["protected"] == {"practitioner": 1}


def test_you_cannot_delete_yourself(admin_api, admin_user):
    AdminFactory()
    response = admin_api.delete(f"{BASE}/user/{admin_user.pk}")
    assert response.status_code == 400
    assert User.objects.filter(pk=admin_user.pk).exists()


def test_deleting_a_user_takes_their_patients(admin_api, alice, patient):
    response = admin_api.delete(f"{BASE}/user/{alice.pk}")
    assert response.status_code == 200
    assert response.json()["deleted"]["patient"] == 1
    assert not Patient.objects.filter(pk=patient.pk).exists()


@pytest.mark.parametrize("setup", ["last_admin", "last_user"])
def test_the_last_admin_and_the_last_user_stay(rf, setup):
    from adminops.registry import admin_model

    target = (
        AdminFactory()
        if setup == "last_admin"
        else User.objects.create_user("solo", "solo@example.test")
    )
    operator = User(pk=10**6, role="admin", is_superuser=True)  # a caller no longer in the table
    if setup == "last_admin":
        User.objects.create_user("plain", "plain@example.test", DEFAULT_PASSWORD)
    request = rf.delete("/")
    request.user = operator
    with pytest.raises(BusinessRuleError, match="last"):
        admin_records.record_delete(entry=admin_model("user"), request=request, obj=target)
    assert User.objects.filter(pk=target.pk).exists()


# --- password reset -------------------------------------------------------------------------


def test_reset_password_applies_the_policy_and_signs_the_user_out(admin_api, client_for, alice):
    alice_api = client_for(alice)
    assert alice_api.get("/api/v1/users/me").status_code == 200
    path = f"{BASE}/users/{alice.pk}/reset-password"
    weak = admin_api.post(path, {"new_password": "abc"}, format="json")
    assert weak.status_code == 422 and "new_password" in weak.json()["errors"]
    assert admin_api.post(path, {}, format="json").status_code == 422
    alice.must_change_password = True
    alice.save()
    response = admin_api.post(path, {"new_password": "Brand-new-pass-7"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "Password reset successfully"}
    alice.refresh_from_db()
    assert alice.check_password("Brand-new-pass-7") and not alice.must_change_password
    assert alice_api.get("/api/v1/users/me").status_code == 401  # the old token is void


def test_reset_password_gives_an_sso_account_a_password(admin_api, make_user):
    sso = make_user(auth_method="sso")
    path = f"{BASE}/users/{sso.pk}/reset-password"
    assert (
        admin_api.post(path, {"new_password": "Brand-new-pass-7"}, format="json").status_code == 200
    )
    sso.refresh_from_db()
    assert sso.auth_method == "hybrid"


def test_reset_password_is_for_users_only(admin_api, patient):
    path = f"{BASE}/patient/{patient.pk}/reset-password"
    assert (
        admin_api.post(path, {"new_password": "Brand-new-pass-7"}, format="json").status_code == 404
    )
    missing = f"{BASE}/users/999999/reset-password"
    assert (
        admin_api.post(missing, {"new_password": "Brand-new-pass-7"}, format="json").status_code
        == 404
    )
