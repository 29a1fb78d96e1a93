import pytest

from records.models import Condition
from records.tests.factories import ConditionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/conditions"


def test_diagnosis_is_an_alias_of_condition_name(alice_api, patient):
    response = alice_api.post(
        URL, {"diagnosis": "Asthma", "icd10_code": " j45.909 "}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["condition_name"] == body["diagnosis"] == "Asthma"
    assert body["icd10_code"] == "J45.909"


def test_an_edit_form_changing_one_name_of_the_diagnosis_saves_it(alice_api, patient):
    # The web app's edit form sends back every field it loaded (condition_name included)
    # with the user's change under `diagnosis`: the name that changed wins.
    record = ConditionFactory(patient=patient, condition_name="Seasonal asthma")
    loaded = alice_api.get(f"{URL}/{record.pk}").json()
    body = {**loaded, "diagnosis": "Chronic asthma", "severity": "mild"}
    response = alice_api.put(f"{URL}/{record.pk}", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["diagnosis"] == response.json()["condition_name"] == "Chronic asthma"
    edited_other_name = {**loaded, "condition_name": "Asthma", "diagnosis": "Seasonal asthma"}
    response = alice_api.put(f"{URL}/{record.pk}", edited_other_name, format="json")
    assert response.status_code == 422  # both differ from the stored "Chronic asthma"


def test_two_different_names_on_create_are_422(alice_api, patient):
    body = {"condition_name": "Asthma", "diagnosis": "Flu"}
    assert alice_api.post(URL, body, format="json").status_code == 422


def test_name_is_required(alice_api, patient):
    response = alice_api.post(URL, {"status": "active"}, format="json")
    assert response.status_code == 422 and "condition_name" in response.json()["errors"]


def test_end_before_onset_is_422(alice_api, patient):
    response = alice_api.post(
        URL,
        {"condition_name": "Flu", "onset_date": "2025-03-01", "end_date": "2025-02-01"},
        format="json",
    )
    assert response.status_code == 422 and "end_date" in response.json()["errors"]


def test_dropdown_and_active_paths(alice_api, patient):
    ConditionFactory(patient=patient, condition_name="Zoster", status="resolved")
    active = ConditionFactory(patient=patient, condition_name="Asthma", status="active")
    dropdown = alice_api.get(f"{URL}/dropdown").json()
    assert [c["condition_name"] for c in dropdown] == ["Asthma", "Zoster"]
    assert set(dropdown[0]) == {"id", "condition_name", "diagnosis", "status", "severity"}
    assert dropdown[0]["diagnosis"] == "Asthma"
    only_active = alice_api.get(f"{URL}/dropdown", {"active_only": "true"}).json()
    assert [c["id"] for c in only_active] == [active.pk]
    by_path = alice_api.get(f"{URL}/patient/{patient.pk}/active").json()
    assert [c["id"] for c in by_path] == [active.pk]
    second_spelling = alice_api.get(f"{URL}/patients/{patient.pk}/conditions/").json()
    assert len(second_spelling) == 2


def test_patient_paths_refuse_strangers(client_for, mallory, patient):
    api = client_for(mallory)
    assert api.get(f"{URL}/patient/{patient.pk}/active").status_code == 403
    assert api.get(f"{URL}/patients/{patient.pk}/conditions").status_code == 403
    assert api.get(f"{URL}/dropdown", {"patient_id": patient.pk}).status_code == 403


def test_delete_answers_with_a_message(alice_api, patient):
    record = ConditionFactory(patient=patient)
    response = alice_api.delete(f"{URL}/{record.pk}")
    assert response.json() == {"message": "Condition deleted successfully"}
    assert not Condition.objects.exists()


# --- the web app's body and the contract's relations -----------------------------------------


def app_body(patient, **fields):
    """The condition form of the web app as it posts it (§5.4): empty selects and dates as
    null, empty texts as "", condition_name null beside the diagnosis."""
    return {
        "condition_name": None,
        "diagnosis": "Asthma",
        "notes": "",
        "status": "active",
        "severity": None,
        "practitioner_id": None,
        "icd10_code": "",
        "snomed_code": "",
        "code_description": "",
        "onset_date": None,
        "end_date": None,
        "tags": [],
        "patient_id": patient.pk,
        **fields,
    }


def test_the_web_apps_create_and_update(alice_api, patient):
    response = alice_api.post(f"{URL}/", app_body(patient), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["diagnosis"] == body["condition_name"] == "Asthma"
    assert body["severity"] == "" and body["onset_date"] is None
    edited = alice_api.put(
        f"{URL}/{body['id']}", app_body(patient, diagnosis="Severe asthma"), format="json"
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["diagnosis"] == "Severe asthma"
    listed = alice_api.get(f"{URL}/", {"patient_id": patient.pk}).json()
    assert [c["diagnosis"] for c in listed] == ["Severe asthma"]


def test_a_diagnosis_under_neither_name_is_422(alice_api, patient):
    response = alice_api.post(f"{URL}/", app_body(patient, diagnosis=None), format="json")
    assert response.status_code == 422
    assert "condition_name" in response.json()["errors"]


def test_the_web_apps_dropdown(alice_api, patient):
    ConditionFactory(patient=patient, condition_name="Asthma", severity="mild", status="active")
    ConditionFactory(patient=patient, condition_name="Flu", severity="", status="resolved")
    items = alice_api.get(f"{URL}/dropdown", {"active_only": "false"}).json()
    assert [(c["diagnosis"], c["severity"], c["status"]) for c in items] == [
        ("Asthma", "mild", "active"),
        ("Flu", "", "resolved"),
    ]
    assert all(c["condition_name"] == c["diagnosis"] for c in items)
    active = alice_api.get(f"{URL}/dropdown", {"active_only": "true"}).json()
    assert [c["diagnosis"] for c in active] == ["Asthma"]


def test_detail_names_the_patient_and_the_treatments(alice_api, patient):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from records.tests.factories import TreatmentFactory

    condition = ConditionFactory(patient=patient, condition_name="Back pain")
    first = TreatmentFactory(patient=patient, condition=condition, treatment_name="Physio")
    second = TreatmentFactory(patient=patient, condition=condition, treatment_name="Yoga")
    TreatmentFactory(patient=patient)  # another condition's
    alice_api.get(f"{URL}/{condition.pk}")  # warm the per-process caches
    with CaptureQueriesContext(connection) as queries:
        body = alice_api.get(f"{URL}/{condition.pk}").json()
    assert body["patient"] == {"id": patient.pk, "name": "Alice Owner"}
    assert body["treatments"] == [
        {"id": first.pk, "name": "Physio", "status": first.status},
        {"id": second.pk, "name": "Yoga", "status": second.status},
    ]
    # The treatments cost one query and the patient none of its own (joined).
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([q for q in sql if 'FROM "records_treatment"' in q]) == 1
    assert not [
        q
        for q in sql
        if q.startswith("SELECT")
        and 'FROM "patients_patient"' in q
        and "records_condition" not in q
        and '"patients_patient"."id" =' in q
    ]


def test_a_list_with_treatments_costs_the_same_whatever_its_length(alice_api, patient):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from records.tests.factories import TreatmentFactory

    def add(count):
        for condition in ConditionFactory.create_batch(count, patient=patient):
            TreatmentFactory.create_batch(2, patient=patient, condition=condition)

    add(2)
    alice_api.get(f"{URL}/")
    with CaptureQueriesContext(connection) as few:
        assert len(alice_api.get(f"{URL}/").json()) == 2
    add(8)
    with CaptureQueriesContext(connection) as many:
        items = alice_api.get(f"{URL}/").json()
    assert len(items) == 10 and all(len(c["treatments"]) == 2 for c in items)
    assert len(many) == len(few)
