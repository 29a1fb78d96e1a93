"""Medical equipment: rules, filters and the extra lists (the contract test covers CRUD)."""

import datetime

import pytest
from django.utils import timezone

from patients.tests.factories import PatientFactory
from records.models import MedicalEquipment
from records.tests.factories import MedicalEquipmentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/medical-equipment"


def days_from_today(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


class TestCreate:
    def test_full_record(self, alice_api, patient):
        response = alice_api.post(
            URL,
            {
                "equipment_name": "ResMed AirSense 11",
                "equipment_type": "cpap",
                "manufacturer": "ResMed",
                "model_number": "37403",
                "serial_number": "SN-123",
                "prescribed_date": "2024-02-01",
                "last_service_date": "2025-01-10",
                "next_service_date": "2025-07-10",
                "usage_instructions": "Nightly, pressure 8 cmH2O",
                "supplier": "Apria",
                "notes": "Mask size M",
                "tags": ["Sleep Apnea"],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["equipment_name"] == body["name"] == "ResMed AirSense 11"
        assert body["status"] == "active" and body["tags"] == ["sleep-apnea"]
        assert body["patient_id"] == patient.pk

    def test_name_is_an_alias(self, alice_api, patient):
        response = alice_api.post(
            URL, {"name": "Nebulizer", "equipment_type": "nebulizer"}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["equipment_name"] == "Nebulizer"
        record = MedicalEquipment.objects.get()
        renamed = alice_api.put(f"{URL}/{record.pk}", {"name": "Omron nebulizer"}, format="json")
        assert renamed.json()["equipment_name"] == "Omron nebulizer"

    def test_two_different_names_are_422(self, alice_api, patient):
        response = alice_api.post(
            URL,
            {"name": "Nebulizer", "equipment_name": "Inhaler", "equipment_type": "nebulizer"},
            format="json",
        )
        assert response.status_code == 422 and "name" in response.json()["errors"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"equipment_name": None}, "equipment_name"),
            ({"equipment_name": "x"}, "equipment_name"),
            ({"equipment_name": "x" * 201}, "equipment_name"),
            ({"equipment_type": None}, "equipment_type"),
            ({"equipment_type": "x"}, "equipment_type"),
            ({"equipment_type": "x" * 101}, "equipment_type"),
            ({"status": "broken"}, "status"),
            ({"prescribed_date": "2024-13-01"}, "prescribed_date"),
            ({"last_service_date": "2999-01-01"}, "last_service_date"),
            ({"serial_number": "x" * 101}, "serial_number"),
        ],
    )
    def test_bad_input_is_422(self, alice_api, patient, body, field):
        base = {"equipment_name": "Walker", "equipment_type": "walker"}
        response = alice_api.post(URL, {**base, **body}, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not MedicalEquipment.objects.exists()

    def test_name_is_required(self, alice_api, patient):
        response = alice_api.post(URL, {"equipment_type": "cane"}, format="json")
        assert response.status_code == 422 and "equipment_name" in response.json()["errors"]

    def test_next_service_before_last_is_422(self, alice_api, patient):
        response = alice_api.post(
            URL,
            {
                "equipment_name": "CPAP",
                "equipment_type": "cpap",
                "last_service_date": "2025-03-01",
                "next_service_date": "2025-02-01",
            },
            format="json",
        )
        assert response.status_code == 422 and "next_service_date" in response.json()["errors"]

    def test_next_service_before_last_on_update_is_422(self, alice_api, patient):
        record = MedicalEquipmentFactory(
            patient=patient, last_service_date=datetime.date(2025, 3, 1)
        )
        response = alice_api.put(
            f"{URL}/{record.pk}", {"next_service_date": "2025-01-01"}, format="json"
        )
        assert response.status_code == 422
        record.refresh_from_db()
        assert record.next_service_date is None


class TestFilters:
    def test_status_type_and_tags(self, alice_api, patient):
        cpap = MedicalEquipmentFactory(patient=patient, equipment_type="cpap", tags=["sleep"])
        MedicalEquipmentFactory(patient=patient, equipment_type="walker", status="returned")

        def ids(**params):
            response = alice_api.get(URL, params)
            assert response.status_code == 200, response.content
            return [e["id"] for e in response.json()]

        assert ids(status="active") == [cpap.pk]
        assert ids(equipment_type="CPAP") == [cpap.pk]
        assert ids(tags="sleep") == [cpap.pk]
        assert ids(search="walk") != [cpap.pk]


class TestActive:
    def test_lists_active_equipment_by_name(self, alice_api, patient):
        walker = MedicalEquipmentFactory(patient=patient, equipment_name="Walker")
        cpap = MedicalEquipmentFactory(patient=patient, equipment_name="CPAP")
        MedicalEquipmentFactory(patient=patient, status="lost")
        MedicalEquipmentFactory(patient=PatientFactory(owner=patient.owner))
        response = alice_api.get(f"{URL}/active")
        assert response.status_code == 200
        assert [e["id"] for e in response.json()] == [cpap.pk, walker.pk]

    def test_patient_id_and_access(self, client_for, bob, mallory, shared_patient):
        record = MedicalEquipmentFactory(patient=shared_patient)
        listed = client_for(bob).get(f"{URL}/active/", {"patient_id": shared_patient.pk})
        assert [e["id"] for e in listed.json()] == [record.pk]
        stranger = client_for(mallory).get(f"{URL}/active", {"patient_id": shared_patient.pk})
        assert stranger.status_code == 403


class TestNeedingService:
    def test_overdue_or_due_within_thirty_days(self, alice_api, patient):
        overdue = MedicalEquipmentFactory(patient=patient, next_service_date=days_from_today(-5))
        soon = MedicalEquipmentFactory(patient=patient, next_service_date=days_from_today(30))
        MedicalEquipmentFactory(patient=patient, next_service_date=days_from_today(31))
        MedicalEquipmentFactory(patient=patient)  # no service date
        MedicalEquipmentFactory(
            patient=patient, next_service_date=days_from_today(1), status="replaced"
        )
        response = alice_api.get(f"{URL}/needing-service")
        assert response.status_code == 200
        assert [e["id"] for e in response.json()] == [overdue.pk, soon.pk]

    def test_stranger_is_refused(self, client_for, mallory, patient):
        api = client_for(mallory)
        assert api.get(f"{URL}/needing-service", {"patient_id": patient.pk}).status_code == 403


def test_delete_answers_with_a_message(alice_api, patient):
    record = MedicalEquipmentFactory(patient=patient)
    response = alice_api.delete(f"{URL}/{record.pk}")
    assert response.status_code == 200
    assert response.json() == {"message": "Medical equipment deleted successfully"}
    assert not MedicalEquipment.objects.exists()


def test_dashboard_counts_equipment(alice_api, patient):
    MedicalEquipmentFactory.create_batch(3, patient=patient)
    MedicalEquipmentFactory(patient=PatientFactory(owner=patient.owner))
    body = alice_api.get("/api/v1/patients/me/dashboard-stats").json()
    assert body["total_medical_equipment"] == 3
