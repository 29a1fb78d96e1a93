import pytest

from records.models import Medication
from records.tests.factories import MedicationFactory, PharmacyFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/medications"


def create(api, **fields):
    body = {"medication_name": "Metformin", **fields}
    return api.post(URL, body, format="json")


class TestFields:
    def test_all_contract_fields_round_trip(self, alice_api, patient):
        body = {
            "patient_id": patient.pk,
            "medication_name": "Aspirin",
            "dosage": "100mg",
            "frequency": "Once daily",
            "route": "oral",
            "indication": "Pain relief",
            "effective_period_start": "2025-01-01",
            "effective_period_end": "2025-12-31",
            "status": "on-hold",
            "reminder_enabled": True,
            "reminder_times": ["20:00", "08:00"],
            "tags": ["  Heart Health ", "heart-health", "Daily"],
            "practitioner_id": PractitionerFactory(name="Dr. Prescriber").pk,
            "pharmacy_id": PharmacyFactory(name="Corner Pharmacy", brand="").pk,
        }
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        for key in ("medication_name", "dosage", "frequency", "route", "indication", "status"):
            assert got[key] == body[key]
        assert got["reminder_times"] == ["08:00", "20:00"]
        assert got["tags"] == ["heart-health", "daily"]
        assert got["effective_period_end"] == "2025-12-31"
        assert Medication.objects.get(pk=got["id"]).tag_index == ",heart-health,daily,"
        assert got["practitioner"]["name"] == "Dr. Prescriber"
        assert got["pharmacy"] == {
            "id": body["pharmacy_id"],
            "name": "Corner Pharmacy",
            "brand": "",
        }

    def test_choice_spellings_are_read_leniently(self, alice_api, patient):
        response = create(alice_api, status="On_Hold", route="Oral")
        assert response.status_code == 201
        assert (response.json()["status"], response.json()["route"]) == ("on-hold", "oral")

    def test_delete_is_204(self, alice_api, patient):
        record = MedicationFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}")
        assert response.status_code == 204 and not response.content


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"reminder_times": ["8am"]}, "reminder_times"),
            ({"reminder_times": ["24:00"]}, "reminder_times"),
            ({"reminder_times": ["08:00", "08:00"]}, "reminder_times"),
            ({"reminder_times": [f"{h:02d}:00" for h in range(13)]}, "reminder_times"),
            ({"reminder_enabled": True, "reminder_times": []}, "reminder_times"),
            ({"reminder_days": [7]}, "reminder_days"),
            ({"status": "paused"}, "status"),
            ({"route": "telepathy"}, "route"),
            ({"medication_name": "x" * 101}, "medication_name"),
            ({"dosage": "x" * 51}, "dosage"),
            ({"effective_period_start": "2025-02-30"}, "effective_period_start"),
            ({"tags": [f"t{i}" for i in range(16)]}, "tags"),
            ({"tags": ["x" * 51]}, "tags"),
            ({"tags": "not-a-list"}, "tags"),
        ],
    )
    def test_bad_values_are_422_with_the_field(self, alice_api, patient, fields, field):
        response = create(alice_api, **fields)
        assert response.status_code == 422, response.content
        assert any(key.split("[")[0] == field for key in response.json()["errors"])
        assert not Medication.objects.exists()

    def test_period_end_before_start(self, alice_api, patient):
        response = create(
            alice_api, effective_period_start="2025-05-01", effective_period_end="2025-04-01"
        )
        assert response.status_code == 422
        assert "before its start" in response.json()["error"]

    def test_update_revalidates_against_stored_values(self, alice_api, patient):
        record = MedicationFactory(patient=patient, effective_period_start="2025-05-01")
        response = alice_api.put(
            f"{URL}/{record.pk}", {"effective_period_end": "2025-01-01"}, format="json"
        )
        assert response.status_code == 422
        record.refresh_from_db()
        assert record.effective_period_end is None


class TestFilters:
    def test_name_and_tags(self, alice_api, patient):
        MedicationFactory(patient=patient, medication_name="Lisinopril", tags=["heart", "daily"])
        MedicationFactory(patient=patient, medication_name="Metoprolol", tags=["heart"])
        MedicationFactory(patient=patient, medication_name="Vitamin D", tags=["daily"])

        def names(**query):
            return sorted(m["medication_name"] for m in alice_api.get(URL, query).json())

        assert names(name="pril") == ["Lisinopril"]
        assert names(tags="heart") == ["Lisinopril", "Metoprolol"]
        assert names(tags="heart,daily") == ["Lisinopril", "Metoprolol", "Vitamin D"]
        assert names(tags=["heart", "daily"], tag_match_all="true") == ["Lisinopril"]
        assert names(tags="Heart") == ["Lisinopril", "Metoprolol"]
        assert names(tags="hear") == []

    def test_a_comma_inside_a_tag_separates_two_tags(self, alice_api, patient):
        # The comma is the tag filter's separator: a stored "heart,daily" tag would match
        # a filter for "heart" without carrying that tag.
        response = create(alice_api, medication_name="Lisinopril", tags=["Heart, daily", "daily"])
        assert response.status_code == 201, response.content
        assert response.json()["tags"] == ["heart", "daily"]
        assert [m["medication_name"] for m in alice_api.get(URL, {"tags": "daily"}).json()] == [
            "Lisinopril"
        ]

    def test_active_only_on_the_patient_path(self, alice_api, patient):
        MedicationFactory(patient=patient, status="active")
        MedicationFactory(patient=patient, status="stopped")
        path = f"{URL}/patient/{patient.pk}"
        assert len(alice_api.get(path).json()) == 2
        only = alice_api.get(path, {"active_only": "true"}).json()
        assert [m["status"] for m in only] == ["active"]

    def test_skip_and_limit(self, alice_api, patient):
        MedicationFactory.create_batch(5, patient=patient)
        assert len(alice_api.get(URL, {"limit": 2}).json()) == 2
        assert len(alice_api.get(URL, {"skip": 4}).json()) == 1
        assert alice_api.get(URL, {"limit": "many"}).status_code == 422


def test_user_without_any_patient_gets_404(client_for, mallory):
    response = client_for(mallory).get(URL)
    assert response.status_code == 404
    assert "No patient" in response.json()["error"]
