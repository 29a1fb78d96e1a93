from datetime import timedelta

import pytest
from django.utils import timezone

from records.models import Procedure
from records.tests.factories import ConditionFactory, PractitionerFactory, ProcedureFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/procedures"


def create(api, **fields):
    body = {
        "procedure_name": "Blood Draw",
        "procedure_date": "2025-10-04",
        "status": "completed",
        **fields,
    }
    return api.post(URL, body, format="json")


def days(n: int) -> str:
    return (timezone.localdate() + timedelta(days=n)).isoformat()


class TestFields:
    def test_contract_body_round_trips(self, alice_api, patient):
        condition = ConditionFactory(patient=patient, condition_name="Anaemia")
        body = {
            "patient_id": patient.pk,
            "procedure_name": "Blood Draw",
            "procedure_date": "2025-10-04",
            "practitioner_id": PractitionerFactory().pk,
            "status": "completed",
            "outcome": "Successful",
            "notes": "Routine lab work",
            "code": "36415",
            "procedure_type": "diagnostic",
            "facility": "City Lab",
            "procedure_duration": 15,
            "anesthesia_type": "none",
            "procedure_complications": "Small bruise",
            "condition_id": condition.pk,
            "tags": ["Routine"],
        }
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["procedure_date"] == got["date"] == "2025-10-04"
        assert got["procedure_code"] == got["code"] == "36415"
        assert got["complications"] == got["procedure_complications"] == "Small bruise"
        assert got["outcome"] == "successful" and got["tags"] == ["routine"]
        assert got["condition_id"] == condition.pk
        assert got["condition"]["condition_name"] == "Anaemia"
        assert got["procedure_duration"] == 15

    def test_reference_names_create_and_update(self, alice_api, patient):
        response = alice_api.post(
            URL,
            {"procedure_name": "Colonoscopy", "date": "2024-02-01", "status": "In Progress"},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "in_progress"
        record = Procedure.objects.get()
        updated = alice_api.put(
            f"{URL}/{record.pk}", {"date": "2024-02-02", "status": "in-progress"}, format="json"
        )
        assert updated.status_code == 200
        record.refresh_from_db()
        assert record.procedure_date.isoformat() == "2024-02-02"

    def test_conflicting_names_are_422(self, alice_api, patient):
        response = create(alice_api, procedure_code="A1", code="B2")
        assert response.status_code == 422 and "code" in response.json()["errors"]

    def test_deleting_the_condition_keeps_the_procedure(self, patient):
        condition = ConditionFactory(patient=patient)
        record = ProcedureFactory(patient=patient, condition=condition)
        condition.delete()
        record.refresh_from_db()
        assert record.condition_id is None

    def test_delete_answers_with_a_message(self, alice_api, patient):
        record = ProcedureFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Procedure deleted successfully"}
        assert not Procedure.objects.exists()


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"procedure_name": "x" * 301}, "procedure_name"),
            ({"procedure_code": "x" * 51}, "procedure_code"),
            ({"code": "x" * 51}, "code"),
            ({"status": "finished"}, "status"),
            ({"status": None}, "status"),
            ({"outcome": "great"}, "outcome"),
            ({"procedure_duration": 0}, "procedure_duration"),
            ({"procedure_duration": 1441}, "procedure_duration"),
            ({"procedure_duration": 10**30}, "procedure_duration"),
            ({"procedure_duration": "an hour"}, "procedure_duration"),
            ({"procedure_date": "yesterday"}, "procedure_date"),
            ({"notes": "x" * 5001}, "notes"),
            ({"condition_id": [1]}, "condition_id"),
        ],
    )
    def test_bad_values_are_422_with_the_field(self, alice_api, patient, fields, field):
        response = create(alice_api, **fields)
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not Procedure.objects.exists()

    @pytest.mark.parametrize("missing", ["procedure_name", "procedure_date", "status"])
    def test_required_fields(self, alice_api, patient, missing):
        body = {"procedure_name": "Biopsy", "procedure_date": "2025-01-01", "status": "completed"}
        del body[missing]
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 422 and missing in response.json()["errors"]

    @pytest.mark.parametrize(
        ("status", "when", "ok"),
        [
            ("completed", 1, False),
            ("in_progress", 1, False),
            ("cancelled", 1, False),
            ("completed", 0, True),
            ("scheduled", 30, True),
            ("postponed", 365, True),
            ("scheduled", 3651, False),
            ("scheduled", -30, True),
        ],
    )
    def test_the_date_fits_the_status(self, alice_api, patient, status, when, ok):
        response = create(alice_api, status=status, procedure_date=days(when))
        assert response.status_code == (201 if ok else 422), response.content
        if not ok:
            assert "procedure_date" in response.json()["errors"]

    def test_completing_a_future_procedure_is_422(self, alice_api, patient):
        record = ProcedureFactory(patient=patient, status="scheduled", procedure_date=days(10))
        response = alice_api.put(f"{URL}/{record.pk}", {"status": "completed"}, format="json")
        assert response.status_code == 422
        record.refresh_from_db()
        assert record.status == "scheduled"


class TestFilters:
    def test_status_outcome_and_tags(self, alice_api, patient):
        ProcedureFactory(patient=patient, procedure_name="MRI", tags=["imaging"])
        ProcedureFactory(
            patient=patient,
            procedure_name="X-ray",
            status="in_progress",
            outcome="pending",
            tags=["imaging", "urgent"],
        )
        ProcedureFactory(patient=patient, procedure_name="Biopsy", status="cancelled")

        def names(**query):
            response = alice_api.get(URL, query)
            assert response.status_code == 200
            return sorted(p["procedure_name"] for p in response.json())

        assert names(status="completed") == ["MRI"]
        assert names(status="in-progress") == ["X-ray"]
        assert names(outcome="pending") == ["X-ray"]
        assert names(tags="imaging") == ["MRI", "X-ray"]
        assert names(tags="imaging,urgent", tag_match_all="true") == ["X-ray"]
        assert names(search="bio") == ["Biopsy"]
