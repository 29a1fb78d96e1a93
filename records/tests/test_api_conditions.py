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
    assert set(dropdown[0]) == {"id", "condition_name", "status", "severity"}
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
