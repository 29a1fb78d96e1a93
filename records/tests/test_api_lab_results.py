import pytest

from patients.tests.factories import PatientFactory
from records.models import EncounterLabResult, LabResult, LabResultCondition, LabTestComponent
from records.tests.factories import (
    ConditionFactory,
    EncounterFactory,
    LabResultFactory,
    LabTestComponentFactory,
    PractitionerFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/lab-results"


class TestFields:
    def test_the_contracts_example_body(self, alice_api, patient):
        body = {
            "patient_id": patient.pk,
            "test_name": "Complete Blood Count",
            "test_code": " cbc ",
            "test_category": "hematology",
            "test_type": "routine",
            "facility": "LabCorp",
            "ordered_date": "2025-10-01",
            "completed_date": "2025-10-02",
            "practitioner_id": PractitionerFactory(name="Dr. Ordering").pk,
            "status": "completed",
            "labs_result": "normal",
            "notes": "Routine checkup",
            "tags": ["annual", "routine"],
        }
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["test_code"] == "CBC"
        for key in ("test_name", "test_category", "test_type", "facility", "status"):
            assert got[key] == body[key]
        assert got["labs_result"] == "normal" and got["tags"] == ["annual", "routine"]
        assert got["completed_date"] == "2025-10-02"
        assert got["practitioner"]["name"] == "Dr. Ordering"

    def test_status_defaults_to_ordered(self, alice_api, patient):
        got = alice_api.post(URL, {"test_name": "Lipid panel"}, format="json").json()
        assert got["status"] == "ordered"

    @pytest.mark.parametrize(
        "spelling", ["in-progress", "in_progress", "In Progress", "IN-PROGRESS", " in progress "]
    )
    def test_in_progress_is_answered_as_the_contract_spells_it(self, alice_api, patient, spelling):
        response = alice_api.post(URL, {"test_name": "TSH", "status": spelling}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "in-progress"
        record = LabResult.objects.get()
        assert record.status == "in-progress"
        assert alice_api.get(f"{URL}/{record.pk}").json()["status"] == "in-progress"
        for wanted in ("in-progress", "in_progress", "In Progress"):
            listed = alice_api.get(URL, {"status": wanted}).json()
            assert [row["status"] for row in listed] == ["in-progress"]
        updated = alice_api.put(f"{URL}/{record.pk}", {"status": "In_Progress"}, format="json")
        assert updated.json()["status"] == "in-progress"

    def test_the_contracts_status_values(self, alice_api, patient):
        for value in ("ordered", "in-progress", "completed", "cancelled"):
            response = alice_api.post(URL, {"test_name": "TSH", "status": value}, format="json")
            assert response.json()["status"] == value
        bad = alice_api.post(URL, {"test_name": "TSH", "status": "someday"}, format="json")
        assert bad.status_code == 422

    def test_all_category_and_type_values(self, alice_api, patient):
        for category in ("blood work", "pulmonology", "stomatology"):
            body = {"test_name": "Test", "test_category": category, "test_type": "follow-up"}
            assert alice_api.post(URL, body, format="json").status_code == 201

    def test_delete_reports_files(self, alice_api, patient):
        record = LabResultFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}")
        assert response.status_code == 200
        assert response.json() == {
            "message": "Lab result and associated files deleted successfully",
            "files_deleted": 0,
            "files_preserved": 0,
        }

    def test_delete_takes_components_and_links_along(self, alice_api, patient):
        record = LabResultFactory(patient=patient)
        LabTestComponentFactory.create_batch(2, patient=patient, lab_result=record)
        EncounterLabResult.objects.create(
            encounter=EncounterFactory(patient=patient), lab_result=record
        )
        LabResultCondition.objects.create(
            lab_result=record, condition=ConditionFactory(patient=patient)
        )
        assert alice_api.delete(f"{URL}/{record.pk}").status_code == 200
        assert not LabTestComponent.objects.exists()
        assert not EncounterLabResult.objects.exists()
        assert not LabResultCondition.objects.exists()


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"test_name": "x"}, "test_name"),
            ({"test_name": "x" * 201}, "test_name"),
            ({"test_code": "x" * 51}, "test_code"),
            ({"facility": "x" * 301}, "facility"),
            ({"notes": "x" * 5001}, "notes"),
            ({"status": "pending"}, "status"),
            ({"status": 7}, "status"),
            ({"labs_result": "great"}, "labs_result"),
            ({"test_type": "someday"}, "test_type"),
            ({"test_category": "astrology"}, "test_category"),
            ({"ordered_date": "2025-13-01"}, "ordered_date"),
            ({"ordered_date": "2025-02-01", "completed_date": "2025-01-01"}, "completed_date"),
            ({"tags": "not-a-list"}, "tags"),
            ({"tags": [f"t{n}" for n in range(16)]}, "tags"),
        ],
    )
    def test_bad_input_is_422(self, alice_api, patient, fields, field):
        response = alice_api.post(URL, {"test_name": "CBC", **fields}, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not LabResult.objects.exists()

    def test_update_keeps_the_dates_in_order(self, alice_api, patient):
        record = LabResultFactory(patient=patient, ordered_date="2025-02-01")
        response = alice_api.put(
            f"{URL}/{record.pk}", {"completed_date": "2025-01-01"}, format="json"
        )
        assert response.status_code == 422
        assert "completed_date" in response.json()["errors"]


class TestLimits:
    def test_default_100_and_up_to_1000(self, alice_api, patient):
        LabResultFactory.create_batch(120, patient=patient)
        assert len(alice_api.get(URL).json()) == 100
        assert len(alice_api.get(URL, {"limit": 1000}).json()) == 120
        assert len(alice_api.get(URL, {"limit": 10**6, "skip": 110}).json()) == 10
        assert alice_api.get(URL, {"limit": "many"}).status_code == 422


@pytest.fixture
def labs(alice, patient, bob):
    """CBC results of alice's two patients, one of bob's own and one of a stranger."""
    second = PatientFactory(owner=alice)
    return {
        "mine": LabResultFactory(patient=patient, test_code="CBC"),
        "mine_other_code": LabResultFactory(patient=patient, test_code="LIPID"),
        "second": LabResultFactory(patient=second, test_code="cbc"),
        "bobs": LabResultFactory(patient=PatientFactory(owner=bob), test_code="CBC"),
        "strangers": LabResultFactory(test_code="CBC"),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return sorted(item["id"] for item in response.json())


class TestCodePaths:
    def test_patient_and_code(self, alice_api, patient, labs):
        got = alice_api.get(f"{URL}/patient/{patient.pk}/code/cbc")
        assert ids(got) == [labs["mine"].pk]

    def test_search_by_code_covers_every_visible_patient(self, alice_api, labs):
        expected = sorted([labs["mine"].pk, labs["second"].pk])
        assert ids(alice_api.get(f"{URL}/search/code/CBC")) == expected
        narrowed = alice_api.get(
            f"{URL}/search/code/CBC", {"patient_id": labs["second"].patient_id}
        )
        assert ids(narrowed) == [labs["second"].pk]

    def test_search_by_pattern(self, alice_api, labs):
        assert ids(alice_api.get(f"{URL}/search/code-pattern/ipi")) == [labs["mine_other_code"].pk]
        assert ids(alice_api.get(f"{URL}/search/code-pattern/B")) == sorted(
            [labs["mine"].pk, labs["second"].pk]
        )

    def test_shared_patients_are_searched_too(self, client_for, bob, shared_patient, labs):
        got = ids(client_for(bob).get(f"{URL}/search/code/CBC"))
        assert got == sorted([labs["mine"].pk, labs["bobs"].pk])

    def test_counts(self, alice_api, patient, labs):
        assert alice_api.get(f"{URL}/stats/patient/{patient.pk}/count").json() == {
            "patient_id": patient.pk,
            "lab_result_count": 2,
        }
        assert alice_api.get(f"{URL}/stats/code/cbc/count").json() == {
            "code": "CBC",
            "usage_count": 2,
        }

    def test_practitioner_paths_cover_every_visible_patient(
        self, alice_api, client_for, mallory, labs
    ):
        doctor, other = PractitionerFactory(), PractitionerFactory()
        for key in ("mine", "second", "bobs", "strangers"):
            LabResult.objects.filter(pk=labs[key].pk).update(practitioner=doctor)
        LabResult.objects.filter(pk=labs["mine_other_code"].pk).update(practitioner=other)
        expected = sorted([labs["mine"].pk, labs["second"].pk])
        assert ids(alice_api.get(f"{URL}/practitioner/{doctor.pk}")) == expected
        narrowed = alice_api.get(
            f"{URL}/practitioner/{doctor.pk}", {"patient_id": labs["second"].patient_id}
        )
        assert ids(narrowed) == [labs["second"].pk]
        assert alice_api.get(f"{URL}/stats/practitioner/{doctor.pk}/count").json() == {
            "practitioner_id": doctor.pk,
            "lab_result_count": 2,
        }
        # A stranger learns nothing of whom alice's doctor treats.
        api = client_for(mallory)
        assert ids(api.get(f"{URL}/practitioner/{doctor.pk}")) == []
        count = api.get(f"{URL}/stats/practitioner/{doctor.pk}/count").json()
        assert count["lab_result_count"] == 0
        assert ids(alice_api.get(f"{URL}/practitioner/999999")) == []

    def test_strangers_see_nothing(self, client_for, mallory, patient, labs):
        api = client_for(mallory)
        assert api.get(f"{URL}/patient/{patient.pk}/code/CBC").status_code == 403
        assert api.get(f"{URL}/stats/patient/{patient.pk}/count").status_code == 403
        assert api.get(f"{URL}/search/code/CBC").json() == []
        assert api.get(f"{URL}/stats/code/CBC/count").json()["usage_count"] == 0
        assert api.get(f"{URL}/search/code/CBC", {"patient_id": patient.pk}).status_code == 403
        assert api.get(f"{URL}/stats/patient/999999/count").status_code == 404

    def test_anonymous_is_401(self, anon, labs):
        assert anon.get(f"{URL}/search/code/CBC").status_code == 401
        assert anon.get(f"{URL}/stats/code/CBC/count").status_code == 401

    def test_tags_filter_the_code_lists(self, alice_api, patient):
        tagged = LabResultFactory(patient=patient, test_code="A1C", tags=["diabetes"])
        LabResultFactory(patient=patient, test_code="A1C")
        got = alice_api.get(f"{URL}/search/code/A1C", {"tags": "diabetes"})
        assert ids(got) == [tagged.pk]


def test_dashboard_counts_lab_results(alice_api, patient):
    LabResultFactory.create_batch(3, patient=patient)
    body = alice_api.get("/api/v1/patients/me/dashboard-stats").json()
    assert body["total_lab_results"] == 3
