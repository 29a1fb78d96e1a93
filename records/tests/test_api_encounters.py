import pytest

from records.models import Encounter
from records.tests.factories import ConditionFactory, EncounterFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/encounters"


class TestFields:
    def test_the_contracts_example_body(self, alice_api, patient):
        body = {
            "patient_id": patient.pk,
            "encounter_type": "Office Visit",
            "encounter_date": "2025-10-04",
            "practitioner_id": PractitionerFactory().pk,
            "chief_complaint": "Annual checkup",
            "diagnosis": "Healthy",
            "treatment_plan": "Continue current medications",
            "notes": "Patient doing well",
        }
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["visit_type"] == got["encounter_type"] == "Office Visit"
        assert got["date"] == got["encounter_date"] == "2025-10-04"
        # No reason given: the visit is named by its chief complaint.
        assert got["reason"] == "Annual checkup"
        for key in ("diagnosis", "treatment_plan", "notes"):
            assert got[key] == body[key]

    def test_reference_fields_round_trip(self, alice_api, patient):
        condition = ConditionFactory(patient=patient)
        body = {
            "reason": "Knee pain",
            "date": "2025-03-01",
            "visit_type": "Specialist",
            "follow_up_instructions": "Ice twice a day",
            "duration_minutes": 45,
            "location": "Main clinic",
            "priority": "urgent",
            "condition_id": condition.pk,
            "tags": ["Knee Pain", "knee-pain"],
        }
        got = alice_api.post(URL, body, format="json").json()
        for key in ("reason", "date", "visit_type", "duration_minutes", "priority", "location"):
            assert got[key] == body[key]
        assert got["condition_id"] == condition.pk
        assert got["tags"] == ["knee-pain"]

    def test_reason_falls_back_to_the_visit_type(self, alice_api, patient):
        body = {"encounter_type": "Telehealth", "date": "2025-01-01"}
        assert alice_api.post(URL, body, format="json").json()["reason"] == "Telehealth"

    def test_update_applies_only_the_fields_sent(self, alice_api, patient):
        record = EncounterFactory(patient=patient, reason="Checkup", priority="routine")
        response = alice_api.put(
            f"{URL}/{record.pk}", {"encounter_type": "Follow-up"}, format="json"
        )
        assert response.status_code == 200, response.content
        record.refresh_from_db()
        assert (record.visit_type, record.reason, record.priority) == (
            "Follow-up",
            "Checkup",
            "routine",
        )

    def test_delete_answers_with_a_message(self, alice_api, patient):
        record = EncounterFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Encounter deleted successfully"}
        assert not Encounter.objects.exists()

    def test_listed_newest_visit_first(self, alice_api, patient):
        older = EncounterFactory(patient=patient, date="2024-01-01")
        newer = EncounterFactory(patient=patient, date="2025-01-01")
        assert [e["id"] for e in alice_api.get(URL).json()] == [newer.pk, older.pk]


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"reason": None, "chief_complaint": ""}, "reason"),
            ({"reason": "x"}, "reason"),
            ({"reason": "x" * 201}, "reason"),
            ({"date": None}, "date"),
            ({"date": "yesterday"}, "date"),
            ({"encounter_date": "2999-01-01"}, "encounter_date"),
            ({"duration_minutes": 0}, "duration_minutes"),
            ({"duration_minutes": 601}, "duration_minutes"),
            ({"duration_minutes": 10**30}, "duration_minutes"),
            ({"duration_minutes": "long"}, "duration_minutes"),
            ({"priority": "whenever"}, "priority"),
            ({"visit_type": "x" * 101}, "visit_type"),
            ({"notes": "x" * 1001}, "notes"),
            ({"condition_id": "abc"}, "condition_id"),
            ({"condition_id": 10**30}, "condition_id"),
        ],
    )
    def test_bad_input_is_422(self, alice_api, patient, fields, field):
        body = {"reason": "Checkup", "date": "2025-01-01", **fields}
        body = {k: v for k, v in body.items() if v is not None}
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not Encounter.objects.exists()

    def test_date_is_required(self, alice_api, patient):
        response = alice_api.post(URL, {"reason": "Checkup"}, format="json")
        assert response.status_code == 422
        assert response.json()["errors"] == {"date": ["This field is required."]}


class TestFilters:
    def test_priority_type_condition_and_dates(self, alice_api, patient):
        condition = ConditionFactory(patient=patient)
        urgent = EncounterFactory(
            patient=patient, priority="urgent", date="2025-02-01", condition=condition
        )
        EncounterFactory(patient=patient, priority="routine", date="2024-02-01")

        def ids(**params):
            response = alice_api.get(URL, params)
            assert response.status_code == 200, response.content
            return [e["id"] for e in response.json()]

        assert ids(priority="urgent") == [urgent.pk]
        assert ids(condition_id=condition.pk) == [urgent.pk]
        assert ids(date_from="2025-01-01") == [urgent.pk]
        assert ids(date_to="2024-12-31") != [urgent.pk]
        assert len(ids(encounter_type="office visit")) == 2

    @pytest.mark.parametrize(
        "params", [{"condition_id": "1e30"}, {"date_from": "soon"}, {"condition_id": "x"}]
    )
    def test_junk_filters_are_422(self, alice_api, patient, params):
        assert alice_api.get(URL, params).status_code == 422


class TestCondition:
    def test_deleting_the_condition_keeps_the_visit(self, alice_api, patient):
        condition = ConditionFactory(patient=patient)
        visit = EncounterFactory(patient=patient, condition=condition)
        response = alice_api.delete(f"/api/v1/conditions/{condition.pk}")
        assert response.status_code == 200, response.content
        visit.refresh_from_db()
        assert visit.condition_id is None

    def test_condition_can_be_cleared(self, alice_api, patient):
        visit = EncounterFactory(patient=patient, condition=ConditionFactory(patient=patient))
        response = alice_api.put(f"{URL}/{visit.pk}", {"condition_id": None}, format="json")
        assert response.status_code == 200 and response.json()["condition_id"] is None


def test_dashboard_counts_visits(alice_api, patient):
    EncounterFactory.create_batch(2, patient=patient)
    EncounterFactory()  # somebody else's
    body = alice_api.get("/api/v1/patients/me/dashboard-stats").json()
    assert body["total_encounters"] == 2
