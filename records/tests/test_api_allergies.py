import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.models import Allergy
from records.tests.factories import AllergyFactory, MedicationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/allergies"


def create(api, **fields):
    return api.post(URL, {"allergen": "Penicillin", "severity": "severe", **fields}, format="json")


class TestFields:
    def test_contract_body_round_trips(self, alice_api, patient):
        medication = MedicationFactory(patient=patient, medication_name="Amoxicillin")
        body = {
            "patient_id": patient.pk,
            "allergen": "Penicillin",
            "severity": "Life Threatening",
            "reaction": "Anaphylaxis",
            "diagnosed_date": "2020-05-15",
            "notes": "Confirmed by allergist",
            "status": "Active",
            "tags": [" Drug Allergy ", "drug-allergy"],
            "medication_id": medication.pk,
        }
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["severity"] == "life-threatening" and got["status"] == "active"
        assert got["onset_date"] == got["diagnosed_date"] == "2020-05-15"
        assert got["tags"] == ["drug-allergy"]
        assert got["medication_id"] == medication.pk
        assert got["medication"]["medication_name"] == "Amoxicillin"
        assert Allergy.objects.get().onset_date.isoformat() == "2020-05-15"

    def test_defaults_and_nulls(self, alice_api, patient):
        response = create(alice_api, reaction=None, onset_date=None, medication_id=None)
        assert response.status_code == 201, response.content
        got = response.json()
        assert (got["status"], got["reaction"], got["onset_date"]) == ("active", "", None)
        assert got["medication"] is None

    def test_conflicting_aliases_are_422(self, alice_api, patient):
        response = create(alice_api, onset_date="2020-01-01", diagnosed_date="2021-01-01")
        assert response.status_code == 422 and "diagnosed_date" in response.json()["errors"]
        same = create(alice_api, onset_date="2020-01-01", diagnosed_date="2020-01-01")
        assert same.status_code == 201

    def test_deleting_the_medication_keeps_the_allergy(self, alice_api, patient):
        medication = MedicationFactory(patient=patient)
        allergy = AllergyFactory(patient=patient, medication=medication)
        medication.delete()
        allergy.refresh_from_db()
        assert allergy.medication_id is None

    def test_delete_answers_with_a_message(self, alice_api, patient):
        record = AllergyFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Allergy deleted successfully"}
        assert not Allergy.objects.exists()


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"allergen": "x" * 201}, "allergen"),
            ({"allergen": None}, "allergen"),
            ({"severity": "deadly"}, "severity"),
            ({"severity": None}, "severity"),
            ({"status": "gone"}, "status"),
            ({"reaction": "x" * 501}, "reaction"),
            ({"notes": "x" * 5001}, "notes"),
            ({"onset_date": "2999-01-01"}, "onset_date"),
            ({"diagnosed_date": "2999-01-01"}, "diagnosed_date"),
            ({"onset_date": "2025-02-30"}, "onset_date"),
            ({"tags": "not-a-list"}, "tags"),
            ({"tags": [f"t{i}" for i in range(16)]}, "tags"),
            ({"medication_id": "abc"}, "medication_id"),
            ({"medication_id": 2**70}, "medication_id"),
        ],
    )
    def test_bad_values_are_422_with_the_field(self, alice_api, patient, fields, field):
        response = create(alice_api, **fields)
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not Allergy.objects.exists()

    def test_severity_is_required(self, alice_api, patient):
        response = alice_api.post(URL, {"allergen": "Latex"}, format="json")
        assert response.status_code == 422 and "severity" in response.json()["errors"]

    def test_update_to_another_patients_medication_is_400(self, alice_api, patient, alice):
        record = AllergyFactory(patient=patient)
        elsewhere = MedicationFactory(patient=PatientFactory(owner=alice))
        response = alice_api.put(
            f"{URL}/{record.pk}", {"medication_id": elsewhere.pk}, format="json"
        )
        assert response.status_code == 400
        record.refresh_from_db()
        assert record.medication_id is None


class TestFilters:
    def test_severity_allergen_status_and_tags(self, alice_api, patient):
        AllergyFactory(patient=patient, allergen="Peanuts", severity="severe", tags=["food"])
        AllergyFactory(
            patient=patient, allergen="Tree nuts", severity="mild", tags=["food", "outdoor"]
        )
        AllergyFactory(patient=patient, allergen="Pollen", severity="mild", status="inactive")

        def allergens(**query):
            response = alice_api.get(URL, query)
            assert response.status_code == 200
            return sorted(a["allergen"] for a in response.json())

        assert allergens(severity="mild") == ["Pollen", "Tree nuts"]
        assert allergens(severity="SEVERE") == ["Peanuts"]
        assert allergens(allergen="NUT") == ["Peanuts", "Tree nuts"]
        assert allergens(status="inactive") == ["Pollen"]
        assert allergens(tags="food") == ["Peanuts", "Tree nuts"]
        assert allergens(tags="food,outdoor", tag_match_all="true") == ["Tree nuts"]
        assert allergens(severity="unknown") == []


@pytest.fixture
def allergies(patient):
    return {
        "penicillin": AllergyFactory(
            patient=patient, allergen="Penicillin G", severity="severe", onset_date="2019-01-01"
        ),
        "bees": AllergyFactory(patient=patient, allergen="Bee stings", severity="life-threatening"),
        "old": AllergyFactory(
            patient=patient, allergen="Penicillin V", severity="severe", status="resolved"
        ),
        "dust": AllergyFactory(patient=patient, allergen="Dust", severity="mild"),
    }


class TestPatientPaths:
    def test_active(self, alice_api, patient, allergies):
        response = alice_api.get(f"{URL}/patient/{patient.pk}/active")
        assert response.status_code == 200
        ids = {a["id"] for a in response.json()}
        assert ids == {allergies[k].pk for k in ("penicillin", "bees", "dust")}
        filtered = alice_api.get(f"{URL}/patient/{patient.pk}/active", {"severity": "mild"})
        assert [a["id"] for a in filtered.json()] == [allergies["dust"].pk]

    def test_critical_is_active_severe_or_worse_most_dangerous_first(
        self, alice_api, patient, allergies
    ):
        response = alice_api.get(f"{URL}/patient/{patient.pk}/critical")
        assert response.status_code == 200
        assert [a["id"] for a in response.json()] == [
            allergies["bees"].pk,
            allergies["penicillin"].pk,
        ]

    def test_check_matches_active_allergies_case_insensitively(self, alice_api, patient, allergies):
        response = alice_api.get(f"{URL}/patient/{patient.pk}/check/penicillin")
        assert response.status_code == 200
        assert response.json() == {
            "patient_id": patient.pk,
            "allergen": "penicillin",
            "has_allergy": True,
            "matches": [allergies["penicillin"].pk],
        }
        spaced = alice_api.get(f"{URL}/patient/{patient.pk}/check/BEE%20STINGS/").json()
        assert spaced["has_allergy"] and spaced["matches"] == [allergies["bees"].pk]
        none = alice_api.get(f"{URL}/patient/{patient.pk}/check/Latex").json()
        assert none == {
            "patient_id": patient.pk,
            "allergen": "Latex",
            "has_allergy": False,
            "matches": [],
        }

    def test_check_ignores_other_patients(self, alice_api, alice, patient):
        AllergyFactory(patient=PatientFactory(owner=alice), allergen="Latex")
        body = alice_api.get(f"{URL}/patient/{patient.pk}/check/latex").json()
        assert body["has_allergy"] is False

    @pytest.mark.parametrize("allergen", ["x", "x" * 201, "%20%20"])
    def test_check_refuses_bad_allergens(self, alice_api, patient, allergen):
        response = alice_api.get(f"{URL}/patient/{patient.pk}/check/{allergen}")
        assert response.status_code == 422
        assert "allergen" in response.json()["errors"]

    def test_lists_refuse_bad_paging(self, alice_api, patient):
        for path in ("active", "critical"):
            response = alice_api.get(f"{URL}/patient/{patient.pk}/{path}", {"limit": "many"})
            assert response.status_code == 422

    def test_view_share_reads(self, client_for, bob, shared_patient):
        record = AllergyFactory(patient=shared_patient, allergen="Latex", severity="severe")
        api = client_for(bob)
        base = f"{URL}/patient/{shared_patient.pk}"
        assert [a["id"] for a in api.get(f"{base}/active").json()] == [record.pk]
        assert [a["id"] for a in api.get(f"{base}/critical").json()] == [record.pk]
        assert api.get(f"{base}/check/latex").json()["has_allergy"] is True

    def test_strangers_and_unknown_patients_are_refused(self, client_for, mallory, patient):
        AllergyFactory(patient=patient, allergen="Latex")
        api = client_for(mallory)
        for path in ("active", "critical", "check/latex"):
            assert api.get(f"{URL}/patient/{patient.pk}/{path}").status_code == 403
            assert api.get(f"{URL}/patient/999999/{path}").status_code == 404

    def test_paths_are_read_only(self, alice_api, patient):
        for path in ("active", "critical", "check/latex"):
            response = alice_api.post(f"{URL}/patient/{patient.pk}/{path}", {}, format="json")
            assert response.status_code == 405

    def test_no_query_per_row(self, alice_api, patient):
        def critical_queries(rows):
            for _ in range(rows):
                AllergyFactory(
                    patient=patient,
                    severity="severe",
                    medication=MedicationFactory(patient=patient),
                )
            with CaptureQueriesContext(connection) as queries:
                alice_api.get(f"{URL}/patient/{patient.pk}/critical")
            return len(queries)

        critical_queries(1)  # warm the per-process caches
        assert critical_queries(1) == critical_queries(10)
