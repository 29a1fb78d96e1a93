"""Treatments: rules, filters and the contract's extra paths (the contract test covers CRUD)."""

import datetime

import pytest
from django.utils import timezone

from patients.tests.factories import PatientFactory
from records.models import Treatment
from records.tests.factories import ConditionFactory, PractitionerFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/treatments"


def days_from_today(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


class TestCreate:
    def test_the_contracts_example(self, alice_api, patient):
        condition = ConditionFactory(patient=patient, condition_name="Lower back pain")
        response = alice_api.post(
            URL,
            {
                "patient_id": patient.pk,
                "treatment_name": "Physical Therapy",
                "condition_id": condition.pk,
                "start_date": "2025-10-01",
                "end_date": "2025-12-31",
                "practitioner_id": PractitionerFactory().pk,
                "frequency": "3 times per week",
                "status": "active",
                "mode": "simple",
                "notes": "For lower back pain",
                "tags": ["Back Pain"],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["condition_id"] == condition.pk
        assert body["condition"]["condition_name"] == "Lower back pain"
        assert body["mode"] == "simple" and body["tags"] == ["back-pain"]

    def test_defaults(self, alice_api, patient):
        response = alice_api.post(URL, {"treatment_name": "Stretching"}, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["status"], body["mode"], body["start_date"]) == ("active", "simple", None)
        assert body["patient_id"] == patient.pk and body["condition"] is None

    def test_choices_are_read_leniently(self, alice_api, patient):
        response = alice_api.post(
            URL,
            {"treatment_name": "Rehab", "status": "In Progress", "mode": "Advanced"},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert (response.json()["status"], response.json()["mode"]) == ("in_progress", "advanced")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"treatment_name": "x"}, "treatment_name"),
            ({"treatment_name": "x" * 301}, "treatment_name"),
            ({"status": "paused"}, "status"),
            ({"mode": "expert"}, "mode"),
            ({"start_date": "soon"}, "start_date"),
            ({"notes": "x" * 5001}, "notes"),
            ({"condition_id": "abc"}, "condition_id"),
            ({"condition_id": 10**30}, "condition_id"),
            ({"tags": "x"}, "tags"),
        ],
    )
    def test_bad_input_is_422(self, alice_api, patient, body, field):
        response = alice_api.post(URL, {"treatment_name": "Rehab", **body}, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not Treatment.objects.exists()

    def test_name_is_required(self, alice_api, patient):
        response = alice_api.post(URL, {"status": "active"}, format="json")
        assert response.status_code == 422 and "treatment_name" in response.json()["errors"]


class TestDates:
    def test_end_before_start_is_422(self, alice_api, patient):
        response = alice_api.post(
            URL,
            {"treatment_name": "Rehab", "start_date": "2025-03-01", "end_date": "2025-02-01"},
            format="json",
        )
        assert response.status_code == 422 and "end_date" in response.json()["errors"]

    def test_end_before_start_on_update_is_422(self, alice_api, patient):
        treatment = TreatmentFactory(patient=patient, start_date=datetime.date(2025, 3, 1))
        response = alice_api.put(f"{URL}/{treatment.pk}", {"end_date": "2025-02-01"}, format="json")
        assert response.status_code == 422 and "end_date" in response.json()["errors"]
        treatment.refresh_from_db()
        assert treatment.end_date is None

    def test_same_day_end_is_fine(self, alice_api, patient):
        response = alice_api.post(
            URL,
            {"treatment_name": "Rehab", "start_date": "2025-03-01", "end_date": "2025-03-01"},
            format="json",
        )
        assert response.status_code == 201, response.content

    @pytest.mark.parametrize("status", ["planned", "on_hold"])
    def test_planned_treatments_may_start_ahead(self, alice_api, patient, status):
        body = {"treatment_name": "Rehab", "status": status, "start_date": days_from_today(90)}
        assert alice_api.post(URL, body, format="json").status_code == 201

    def test_not_more_than_ten_years_ahead(self, alice_api, patient):
        body = {"treatment_name": "Rehab", "status": "planned", "start_date": days_from_today(4000)}
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 422 and "start_date" in response.json()["errors"]

    @pytest.mark.parametrize("status", ["active", "in_progress", "completed", "cancelled"])
    def test_begun_treatments_do_not_start_in_the_future(self, alice_api, patient, status):
        body = {"treatment_name": "Rehab", "status": status, "start_date": days_from_today(3)}
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 422 and "start_date" in response.json()["errors"]


class TestCondition:
    def test_deleting_the_condition_keeps_the_treatment(self, alice_api, patient):
        condition = ConditionFactory(patient=patient)
        treatment = TreatmentFactory(patient=patient, condition=condition)
        assert alice_api.delete(f"/api/v1/conditions/{condition.pk}").status_code == 200
        treatment.refresh_from_db()
        assert treatment.condition_id is None

    def test_condition_can_be_cleared(self, alice_api, patient):
        treatment = TreatmentFactory(patient=patient, condition=ConditionFactory(patient=patient))
        response = alice_api.put(f"{URL}/{treatment.pk}", {"condition_id": None}, format="json")
        assert response.status_code == 200 and response.json()["condition_id"] is None


class TestFilters:
    def test_condition_status_and_tags(self, alice_api, patient):
        condition = ConditionFactory(patient=patient)
        rehab = TreatmentFactory(
            patient=patient, condition=condition, status="active", tags=["back", "daily"]
        )
        TreatmentFactory(patient=patient, status="completed", tags=["back"])

        def ids(**params):
            response = alice_api.get(URL, params)
            assert response.status_code == 200, response.content
            return sorted(t["id"] for t in response.json())

        assert ids(condition_id=condition.pk) == [rehab.pk]
        assert ids(status="active") == [rehab.pk]
        assert ids(status="Completed") != [rehab.pk]
        assert len(ids(tags="back")) == 2
        assert len(ids(tags="back,daily")) == 2
        assert ids(tags="back,daily", tag_match_all="true") == [rehab.pk]

    @pytest.mark.parametrize("params", [{"condition_id": "x"}, {"condition_id": "1e30"}])
    def test_junk_filters_are_422(self, alice_api, patient, params):
        assert alice_api.get(URL, params).status_code == 422


class TestActiveForPatient:
    def test_lists_only_active(self, alice_api, patient):
        active = TreatmentFactory(patient=patient, status="active")
        TreatmentFactory(patient=patient, status="in_progress")
        TreatmentFactory(patient=PatientFactory(owner=patient.owner), status="active")
        response = alice_api.get(f"{URL}/patient/{patient.pk}/active")
        assert response.status_code == 200
        assert [t["id"] for t in response.json()] == [active.pk]

    def test_view_share_reads(self, client_for, bob, shared_patient):
        active = TreatmentFactory(patient=shared_patient, status="active")
        response = client_for(bob).get(f"{URL}/patient/{shared_patient.pk}/active/")
        assert [t["id"] for t in response.json()] == [active.pk]

    def test_stranger_is_refused(self, client_for, mallory, patient):
        TreatmentFactory(patient=patient)
        assert client_for(mallory).get(f"{URL}/patient/{patient.pk}/active").status_code == 403
        assert client_for(mallory).get(f"{URL}/patient/999999/active").status_code == 404


class TestOngoing:
    def test_active_and_in_progress_of_the_active_patient(self, alice_api, patient):
        active = TreatmentFactory(patient=patient, status="active")
        under_way = TreatmentFactory(patient=patient, status="in_progress")
        for status in ("planned", "completed", "cancelled", "on_hold"):
            TreatmentFactory(patient=patient, status=status)
        TreatmentFactory(patient=PatientFactory(owner=patient.owner), status="active")
        response = alice_api.get(f"{URL}/ongoing")
        assert response.status_code == 200
        assert sorted(t["id"] for t in response.json()) == sorted([active.pk, under_way.pk])

    def test_patient_id_chooses_the_patient(self, alice_api, patient, alice):
        other = PatientFactory(owner=alice)
        theirs = TreatmentFactory(patient=other, status="in_progress")
        TreatmentFactory(patient=patient, status="active")
        response = alice_api.get(f"{URL}/ongoing/", {"patient_id": other.pk})
        assert [t["id"] for t in response.json()] == [theirs.pk]

    def test_view_share_reads(self, client_for, bob, shared_patient):
        record = TreatmentFactory(patient=shared_patient, status="active")
        response = client_for(bob).get(f"{URL}/ongoing", {"patient_id": shared_patient.pk})
        assert [t["id"] for t in response.json()] == [record.pk]

    def test_stranger_is_refused(self, client_for, mallory, patient):
        api = client_for(mallory)
        assert api.get(f"{URL}/ongoing", {"patient_id": patient.pk}).status_code == 403
        assert api.get(f"{URL}/ongoing", {"patient_id": "x"}).status_code == 404


def test_delete_answers_with_a_message(alice_api, patient):
    record = TreatmentFactory(patient=patient)
    response = alice_api.delete(f"{URL}/{record.pk}")
    assert response.status_code == 200
    assert response.json() == {"message": "Treatment deleted successfully"}
    assert not Treatment.objects.exists()


def test_dashboard_counts_treatments(alice_api, patient):
    TreatmentFactory.create_batch(2, patient=patient)
    TreatmentFactory()  # somebody else's
    body = alice_api.get("/api/v1/patients/me/dashboard-stats").json()
    assert body["total_treatments"] == 2


def test_admin_pages(client, admin_user, patient):
    from records.models import TreatmentMedication
    from records.tests.factories import MedicalEquipmentFactory, MedicationFactory

    treatment = TreatmentFactory(patient=patient, treatment_name="Cardiac Rehabilitation")
    TreatmentMedication.objects.create(
        treatment=treatment, medication=MedicationFactory(patient=patient)
    )
    MedicalEquipmentFactory(patient=patient, equipment_name="ResMed AirSense")
    client.force_login(admin_user)
    listing = client.get("/admin/records/treatment/", {"q": "cardiac"})
    assert listing.status_code == 200 and "Cardiac Rehabilitation" in listing.content.decode()
    change = client.get(f"/admin/records/treatment/{treatment.pk}/change/")
    assert change.status_code == 200
    equipment = client.get("/admin/records/medicalequipment/", {"q": "resmed"})
    assert equipment.status_code == 200 and "ResMed AirSense" in equipment.content.decode()


class TestDetail:
    def test_names_the_patient_condition_and_practitioners_practice(self, alice_api, patient):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        condition = ConditionFactory(patient=patient, condition_name="Back pain")
        doctor = PractitionerFactory()
        treatment = TreatmentFactory(patient=patient, condition=condition, practitioner=doctor)
        alice_api.get(f"{URL}/{treatment.pk}")  # warm the per-process caches
        with CaptureQueriesContext(connection) as queries:
            body = alice_api.get(f"{URL}/{treatment.pk}").json()
        assert body["patient"] == {"id": patient.pk, "name": "Alice Owner"}
        assert body["condition"]["diagnosis"] == "Back pain"
        assert body["practitioner"] == {
            "id": doctor.pk,
            "name": doctor.name,
            "specialty": doctor.specialty.name,
            "practice": doctor.practice.name,
        }
        # One query for the treatment with everything it shows (the rest is access).
        sql = [q["sql"] for q in queries.captured_queries]
        assert len([q for q in sql if 'FROM "records_treatment"' in q]) == 1
        assert not [q for q in sql if 'FROM "records_practitioner"' in q]
        assert not [q for q in sql if 'FROM "records_condition"' in q]

    def test_a_list_costs_the_same_whatever_its_length(self, alice_api, patient):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        def add(count):
            for _ in range(count):
                TreatmentFactory(
                    patient=patient,
                    condition=ConditionFactory(patient=patient),
                    practitioner=PractitionerFactory(),
                )

        add(2)
        alice_api.get(f"{URL}/")
        with CaptureQueriesContext(connection) as few:
            assert len(alice_api.get(f"{URL}/").json()) == 2
        add(8)
        with CaptureQueriesContext(connection) as many:
            items = alice_api.get(f"{URL}/").json()
        assert len(items) == 10 and all(t["patient"]["id"] == patient.pk for t in items)
        assert len(many) == len(few)
