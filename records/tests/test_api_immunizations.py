from datetime import timedelta

import pytest
from django.utils import timezone

from patients.tests.factories import PatientFactory
from records.models import Immunization
from records.tests.factories import ImmunizationFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/immunizations"


def create(api, **fields):
    body = {"vaccine_name": "COVID-19 Vaccine", "date_administered": "2025-01-15", **fields}
    return api.post(URL, body, format="json")


def days(n: int) -> str:
    return (timezone.localdate() + timedelta(days=n)).isoformat()


class TestFields:
    def test_contract_body_round_trips(self, alice_api, patient):
        body = {
            "patient_id": patient.pk,
            "vaccine_name": "COVID-19 Vaccine",
            "vaccine_type": "mRNA",  # not a field: ignored
            "dose_number": 1,
            "administration_date": "2025-01-15",
            "practitioner_id": PractitionerFactory().pk,
            "lot_number": "LOT12345",
            "expiration_date": "2026-01-15",
            "site": "Left arm",
            "route": "Intramuscular",
            "notes": "No adverse reactions",
            "standardized_vaccine_who_code": "XM1NL1",  # resolved once the library exists
            "tags": ["Covid"],
        }
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["date_administered"] == got["administration_date"] == "2025-01-15"
        assert got["route"] == "intramuscular"
        assert got["tags"] == ["covid"]
        assert (got["lot_number"], got["site"], got["expiration_date"]) == (
            "LOT12345",
            "Left arm",
            "2026-01-15",
        )
        assert got["next_due_date"] is None and "vaccine_type" not in got

    def test_either_date_name_updates(self, alice_api, patient):
        record = ImmunizationFactory(patient=patient)
        response = alice_api.put(
            f"{URL}/{record.pk}", {"administration_date": "2023-06-01"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["date_administered"] == "2023-06-01"
        record.refresh_from_db()
        assert record.date_administered.isoformat() == "2023-06-01"

    def test_the_date_is_required(self, alice_api, patient):
        response = alice_api.post(URL, {"vaccine_name": "Tdap"}, format="json")
        assert response.status_code == 422
        assert "date_administered" in response.json()["errors"]

    def test_conflicting_date_names_are_422(self, alice_api, patient):
        response = create(alice_api, administration_date="2025-01-16")
        assert response.status_code == 422
        assert "administration_date" in response.json()["errors"]
        assert create(alice_api, administration_date="2025-01-15").status_code == 201

    def test_null_optional_texts_are_blank(self, alice_api, patient):
        response = create(alice_api, route=None, lot_number=None, site=None)
        assert response.status_code == 201, response.content
        got = response.json()
        assert (got["route"], got["lot_number"], got["site"]) == ("", "", "")

    def test_delete_answers_with_a_message(self, alice_api, patient):
        record = ImmunizationFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Immunization deleted successfully"}
        assert not Immunization.objects.exists()


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"vaccine_name": "x"}, "vaccine_name"),
            ({"vaccine_name": "x" * 201}, "vaccine_name"),
            ({"date_administered": "2999-01-01"}, "date_administered"),
            ({"date_administered": "15/01/2025"}, "date_administered"),
            ({"date_administered": None}, "date_administered"),
            ({"dose_number": 0}, "dose_number"),
            ({"dose_number": 101}, "dose_number"),
            ({"dose_number": 10**30}, "dose_number"),
            ({"dose_number": "second"}, "dose_number"),
            ({"lot_number": "x" * 51}, "lot_number"),
            ({"route": "telepathic"}, "route"),
            ({"notes": "x" * 5001}, "notes"),
            ({"expiration_date": "2025-01-14"}, "expiration_date"),
            ({"next_due_date": "2024-12-31"}, "next_due_date"),
            ({"next_due_date": "soon"}, "next_due_date"),
            ({"tags": [["nested"]]}, "tags"),
        ],
    )
    def test_bad_values_are_422_with_the_field(self, alice_api, patient, fields, field):
        response = create(alice_api, **fields)
        assert response.status_code == 422, response.content
        assert any(key.split("[")[0] == field for key in response.json()["errors"])
        assert not Immunization.objects.exists()

    def test_administration_date_in_the_future_is_422(self, alice_api, patient):
        response = alice_api.post(
            URL, {"vaccine_name": "Tdap", "administration_date": days(1)}, format="json"
        )
        assert response.status_code == 422
        assert "administration_date" in response.json()["errors"]

    def test_update_revalidates_the_expiry_against_the_stored_date(self, alice_api, patient):
        record = ImmunizationFactory(patient=patient, date_administered="2024-03-15")
        response = alice_api.put(
            f"{URL}/{record.pk}", {"expiration_date": "2024-03-01"}, format="json"
        )
        assert response.status_code == 422 and "expiration_date" in response.json()["errors"]


class TestUpcoming:
    def path(self, patient):
        return f"{URL}/patient/{patient.pk}/upcoming"

    def test_due_today_or_later_soonest_first(self, alice_api, alice, patient):
        later = ImmunizationFactory(patient=patient, next_due_date=days(90))
        today = ImmunizationFactory(patient=patient, next_due_date=days(0))
        ImmunizationFactory(patient=patient, next_due_date="2024-04-01")  # overdue: past
        ImmunizationFactory(patient=patient)  # no next dose recorded
        ImmunizationFactory(patient=PatientFactory(owner=alice), next_due_date=days(5))
        response = alice_api.get(self.path(patient))
        assert response.status_code == 200
        assert [i["id"] for i in response.json()] == [today.pk, later.pk]

    def test_filters_and_paging_apply(self, alice_api, patient):
        first = ImmunizationFactory(patient=patient, next_due_date=days(1), tags=["travel"])
        ImmunizationFactory(patient=patient, next_due_date=days(2))
        assert [i["id"] for i in alice_api.get(self.path(patient), {"limit": 1}).json()] == [
            first.pk
        ]
        tagged = alice_api.get(self.path(patient), {"tags": "travel"}).json()
        assert [i["id"] for i in tagged] == [first.pk]
        assert alice_api.get(self.path(patient), {"skip": -1}).status_code == 422

    def test_view_share_reads(self, client_for, bob, shared_patient):
        record = ImmunizationFactory(patient=shared_patient, next_due_date=days(3))
        response = client_for(bob).get(self.path(shared_patient))
        assert [i["id"] for i in response.json()] == [record.pk]

    def test_strangers_and_unknown_patients_are_refused(self, client_for, mallory, patient):
        ImmunizationFactory(patient=patient, next_due_date=days(3))
        api = client_for(mallory)
        assert api.get(self.path(patient)).status_code == 403
        assert api.get(f"{URL}/patient/999999/upcoming").status_code == 404

    def test_read_only(self, alice_api, patient):
        assert alice_api.post(self.path(patient), {}, format="json").status_code == 405
