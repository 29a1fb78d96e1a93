"""The web app's lab-result, component and vitals calls, replayed with its exact bodies
(web-client-api.md §5.9, §5.10, §1.7): every status and field the app reads."""

import pytest

from records.models import LabResult, LabTestComponent, Vitals
from records.tests.factories import (
    EncounterFactory,
    LabResultFactory,
    LabTestComponentFactory,
    MedicationFactory,
    ProcedureFactory,
    TreatmentFactory,
    VitalsFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


# --- lab results (§5.9) ---------------------------------------------------------------------


def lab_form(patient, **fields):
    """The lab-result form as the app sends it: every key, "" for empty texts."""
    return {
        "test_name": "Comprehensive Metabolic Panel",
        "test_code": "",
        "test_category": "chemistry",
        "test_type": "",
        "facility": "",
        "status": "ordered",
        "labs_result": "",
        "ordered_date": "2025-01-10",
        "completed_date": None,
        "notes": "",
        "practitioner_id": None,
        "tags": [],
        "patient_id": patient.pk,
        **fields,
    }


class TestLabResults:
    def test_list_is_a_bare_array_of_the_patient(self, alice_api, patient):
        record = LabResultFactory(patient=patient)
        response = alice_api.get(f"{API}/lab-results/", {"patient_id": patient.pk})
        assert response.status_code == 200
        assert [row["id"] for row in response.json()] == [record.pk]
        row = response.json()[0]
        assert {"id", "patient_id", "tags", "created_at", "updated_at"} <= set(row)

    def test_create_with_the_full_form(self, alice_api, patient):
        response = alice_api.post(f"{API}/lab-results/", lab_form(patient), format="json")
        assert response.status_code == 201, response.content
        created = LabResult.objects.get(pk=response.json()["id"])
        assert (created.test_type, created.facility, created.labs_result) == ("", "", "")

    def test_create_with_empty_dates_as_empty_strings(self, alice_api, patient):
        body = lab_form(patient, ordered_date="", completed_date="")
        response = alice_api.post(f"{API}/lab-results/", body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["ordered_date"] is None

    def test_panel_create_with_is_panel(self, alice_api, patient):
        body = {
            "test_name": "Lipid Panel",
            "test_category": "chemistry",
            "status": "ordered",
            "ordered_date": "2025-01-10",
            "patient_id": patient.pk,
            "is_panel": True,
        }
        response = alice_api.post(f"{API}/lab-results/", body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["id"]

    def test_put_with_only_completed_date(self, alice_api, patient):
        record = LabResultFactory(patient=patient, ordered_date="2025-01-10", facility="LabCorp")
        response = alice_api.put(
            f"{API}/lab-results/{record.pk}", {"completed_date": "2025-01-12"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["completed_date"] == "2025-01-12"
        record.refresh_from_db()
        assert (record.facility, record.test_name) == ("LabCorp", record.test_name)

    def test_put_with_the_full_form_and_stray_keys(self, alice_api, patient):
        record = LabResultFactory(patient=patient, test_code="CBC")
        body = lab_form(
            patient,
            test_name="CBC",
            status="in_progress",
            completed_date="",
            value=None,
            unit="",
            ref_range_min=None,
            ref_range_max=None,
            ref_range_text="",
            id=record.pk,
        )
        response = alice_api.put(f"{API}/lab-results/{record.pk}", body, format="json")
        assert response.status_code == 200, response.content
        got = response.json()
        assert got["status"] == "in-progress"
        assert got["test_code"] == "" and got["completed_date"] is None
        assert "value" not in got

    def test_get_one_and_delete(self, alice_api, patient):
        record = LabResultFactory(patient=patient)
        got = alice_api.get(f"{API}/lab-results/{record.pk}")
        assert got.status_code == 200 and got.json()["id"] == record.pk
        deleted = alice_api.delete(f"{API}/lab-results/{record.pk}")
        assert deleted.status_code == 200
        assert not LabResult.objects.exists()


# --- components (§5.9) ----------------------------------------------------------------------


class TestComponents:
    def test_list_with_the_apps_query(self, alice_api, patient):
        lab = LabResultFactory(patient=patient)
        component = LabTestComponentFactory(
            patient=patient, lab_result=lab, test_name="Glucose", category="chemistry"
        )
        response = alice_api.get(
            f"{API}/lab-test-components/lab-result/{lab.pk}/components",
            {"patient_id": patient.pk, "category": "chemistry", "search": "gluc"},
        )
        assert response.status_code == 200, response.content
        assert [row["id"] for row in response.json()] == [component.pk]

    def test_update_and_delete_with_patient_id(self, alice_api, patient):
        component = LabTestComponentFactory(patient=patient)
        url = f"{API}/lab-test-components/components/{component.pk}?patient_id={patient.pk}"
        updated = alice_api.put(url, {"value": 12.5, "notes": None}, format="json")
        assert updated.status_code == 200, updated.content
        assert updated.json()["status"] == "high"
        deleted = alice_api.delete(url)
        assert deleted.status_code == 204
        assert not LabTestComponent.objects.exists()


# --- vitals (§5.10) -------------------------------------------------------------------------

VITALS_KEYS = (
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "temperature",
    "weight",
    "height",
    "respiratory_rate",
    "oxygen_saturation",
    "blood_glucose",
    "a1c",
    "glucose_context",
    "pain_scale",
    "location",
    "device_used",
    "notes",
    "practitioner_id",
)


class TestVitals:
    def test_create_omitting_empty_keys(self, alice_api, patient):
        body = {
            "patient_id": patient.pk,
            "recorded_date": "2025-01-15T08:30:00.000Z",
            "systolic_bp": 120,
            "diastolic_bp": 80,
            "heart_rate": 72,
            "glucose_context": "fasting",
            "blood_glucose": 95,
        }
        response = alice_api.post(f"{API}/vitals/", body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["id"] and got["recorded_date"] == "2025-01-15T08:30:00Z"
        assert got["import_source"] == ""

    def test_update_with_every_key_and_nulls(self, alice_api, patient):
        reading = VitalsFactory(patient=patient, weight=180)
        body = {key: None for key in VITALS_KEYS}
        body |= {
            "patient_id": patient.pk,
            "recorded_date": "2025-01-15T08:30:00.000Z",
            "weight": 178.5,
            "height": 70,
            "notes": "",
        }
        response = alice_api.put(f"{API}/vitals/{reading.pk}", body, format="json")
        assert response.status_code == 200, response.content
        got = response.json()
        assert (got["weight"], got["systolic_bp"], got["glucose_context"]) == (178.5, None, "")
        assert got["bmi"] == round(703 * 178.5 / 70**2, 1)

    def test_delete(self, alice_api, patient):
        reading = VitalsFactory(patient=patient)
        assert alice_api.delete(f"{API}/vitals/{reading.pk}").status_code == 200
        assert not Vitals.objects.exists()

    def test_stats_carry_the_cards_keys_and_the_contracts(self, alice_api, patient):
        VitalsFactory(patient=patient, weight=180, height=70, temperature=98.6, blood_glucose=100)
        response = alice_api.get(f"{API}/vitals/stats", {"patient_id": patient.pk})
        assert response.status_code == 200
        got = response.json()
        cards = {
            "avg_systolic_bp",
            "avg_diastolic_bp",
            "avg_heart_rate",
            "avg_temperature",
            "current_temperature",
            "current_weight",
            "current_bmi",
            "current_blood_glucose",
            "current_a1c",
            "total_readings",
            "latest_reading_date",
            "weight_change",
        }
        assert cards <= set(got)
        assert {"blood_pressure_avg", "heart_rate_avg", "weight_trend"} <= set(got)
        assert (got["avg_systolic_bp"], got["current_weight"], got["total_readings"]) == (
            120,
            180,
            1,
        )

    def test_trend_panel_pages_with_strings(self, alice_api, patient):
        VitalsFactory.create_batch(3, patient=patient)
        VitalsFactory(
            patient=patient, systolic_bp=None, diastolic_bp=None, heart_rate=None, weight=150
        )
        url = f"{API}/vitals/patient/{patient.pk}"
        page = alice_api.get(url, {"skip": "0", "limit": "2", "vital_type": "blood_pressure"})
        assert page.status_code == 200, page.content
        assert len(page.json()) == 2
        rest = alice_api.get(url, {"skip": "2", "limit": "2", "vital_type": "blood_pressure"})
        assert len(rest.json()) == 1  # a short page ends the paging
        weights = alice_api.get(url, {"skip": "0", "limit": "100", "vital_type": "weight"})
        assert [row["weight"] for row in weights.json()] == [150]

    def test_date_range(self, alice_api, patient):
        VitalsFactory(patient=patient)
        response = alice_api.get(
            f"{API}/vitals/patient/{patient.pk}/date-range",
            {"start_date": "2000-01-01", "end_date": "2100-01-01", "skip": "0", "limit": "10"},
        )
        assert response.status_code == 200 and len(response.json()) == 1


# --- the lab-result links (§6), with the nulls the app sends ---------------------------------


class TestLabResultLinkBodies:
    def test_treatment_link_with_nulls(self, alice_api, patient):
        lab = LabResultFactory(patient=patient)
        treatment = TreatmentFactory(patient=patient, treatment_name="Statin therapy")
        url = f"{API}/lab-results/{lab.pk}/treatments"
        body = {
            "treatment_id": treatment.pk,
            "purpose": None,
            "expected_frequency": None,
            "relevance_note": None,
        }
        created = alice_api.post(url, body, format="json")
        assert created.status_code == 201, created.content
        link = created.json()
        assert link["treatment"]["treatment_name"] == "Statin therapy"
        edit = {"purpose": "monitoring", "expected_frequency": None, "relevance_note": None}
        updated = alice_api.put(f"{url}/{link['id']}", edit, format="json")
        assert updated.status_code == 200, updated.content
        assert updated.json()["purpose"] == "monitoring"

    def test_medication_and_procedure_links_with_a_null_note(self, alice_api, patient):
        lab = LabResultFactory(patient=patient)
        for segment, record in (
            ("medications", MedicationFactory(patient=patient)),
            ("procedures", ProcedureFactory(patient=patient)),
        ):
            child = segment[:-1]
            body = {f"{child}_id": record.pk, "relevance_note": None}
            created = alice_api.post(f"{API}/lab-results/{lab.pk}/{segment}", body, format="json")
            assert created.status_code == 201, created.content
            assert created.json()[child]["id"] == record.pk

    def test_encounter_side_bulk_object_body(self, alice_api, patient):
        visit = EncounterFactory(patient=patient)
        labs = LabResultFactory.create_batch(2, patient=patient)
        response = alice_api.post(
            f"{API}/encounters/{visit.pk}/lab-results/bulk",
            {"lab_result_ids": [lab.pk for lab in labs], "purpose": None, "relevance_note": None},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert len(response.json()) == 2

    def test_lab_result_side_encounter_link_names_the_encounter(self, alice_api, patient):
        lab = LabResultFactory(patient=patient)
        visit = EncounterFactory(patient=patient, reason="Annual checkup")
        response = alice_api.post(
            f"{API}/lab-results/{lab.pk}/encounters",
            {"encounter_id": visit.pk, "purpose": None, "relevance_note": None},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["encounter"]["reason"] == "Annual checkup"
