"""Occurrences under their symptom (/symptoms/{id}/occurrences, the contract's path) and the
symptom's first/last occurrence dates that follow them. The top-level /symptom-occurrences
path is covered by the contract test."""

from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.tests.factories import PatientFactory
from records.models import SymptomOccurrence
from records.tests.factories import SymptomFactory, SymptomOccurrenceFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def symptom(patient):
    return SymptomFactory(patient=patient, symptom_name="Migraine")


def under(symptom, occurrence=None):
    url = f"{API}/symptoms/{symptom.pk}/occurrences"
    return f"{url}/{occurrence.pk}" if occurrence else url


def dates(symptom):
    symptom.refresh_from_db()
    return symptom.first_occurrence_date, symptom.last_occurrence_date


class TestNestedPath:
    def test_the_contracts_example_body(self, alice_api, symptom):
        body = {
            "occurred_at": "2025-10-15T14:30:00Z",
            "severity": "moderate",
            "duration_minutes": 120,
            "notes": "Started after lunch, took ibuprofen",
        }
        response = alice_api.post(under(symptom), body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["symptom_id"] == symptom.pk and got["patient_id"] == symptom.patient_id
        assert got["occurrence_date"] == "2025-10-15"
        assert got["occurred_at"].startswith("2025-10-15T14:30:00")
        assert got["duration_minutes"] == 120 and got["severity"] == "moderate"
        assert got["symptom"]["symptom_name"] == "Migraine"

    def test_crud_under_the_symptom(self, alice_api, symptom):
        created = alice_api.post(
            under(symptom),
            {
                "occurrence_date": "2025-01-10",
                "severity": "Severe",
                "pain_scale": 7,
                "time_of_day": "Morning",
                "impact_level": "no_impact",
                "triggers": ["bright light", " bright light "],
                "relief_methods": ["dark room"],
                "associated_symptoms": ["nausea"],
                "location": "Left temple",
            },
            format="json",
        )
        assert created.status_code == 201, created.content
        occurrence = SymptomOccurrence.objects.get(pk=created.json()["id"])
        assert occurrence.triggers == ["bright light"] and occurrence.time_of_day == "morning"
        listed = alice_api.get(under(symptom)).json()
        assert [item["id"] for item in listed] == [occurrence.pk]
        assert alice_api.get(under(symptom, occurrence)).json()["pain_scale"] == 7
        updated = alice_api.put(
            under(symptom, occurrence), {"pain_scale": 3, "resolved_date": "2025-01-11"}
        )
        assert updated.status_code == 200, updated.content
        assert updated.json()["pain_scale"] == 3
        deleted = alice_api.delete(under(symptom, occurrence))
        assert deleted.status_code == 200
        assert deleted.json() == {"message": "Symptom occurrence deleted successfully"}
        assert not SymptomOccurrence.objects.exists()

    def test_lists_only_the_symptoms_occurrences(self, alice_api, symptom, patient):
        mine = SymptomOccurrenceFactory.create_batch(2, patient=patient, symptom=symptom)
        other = SymptomOccurrenceFactory(patient=patient)
        assert sorted(i["id"] for i in alice_api.get(under(symptom)).json()) == sorted(
            o.pk for o in mine
        )
        # An occurrence of another symptom is not found under this one.
        for method in ("get", "put", "delete"):
            response = getattr(alice_api, method)(under(symptom, other), {}, format="json")
            assert response.status_code == 404
        assert SymptomOccurrence.objects.filter(pk=other.pk).exists()

    def test_path_fixes_the_symptom(self, alice_api, symptom, patient):
        elsewhere = SymptomFactory(patient=patient)
        response = alice_api.post(
            under(symptom),
            {"symptom_id": elsewhere.pk, "occurrence_date": "2025-01-10", "severity": "mild"},
            format="json",
        )
        assert response.status_code == 201 and response.json()["symptom_id"] == symptom.pk
        occurrence = SymptomOccurrence.objects.get()
        moved = alice_api.put(under(symptom, occurrence), {"symptom_id": elsewhere.pk})
        assert moved.status_code == 200
        occurrence.refresh_from_db()
        assert occurrence.symptom_id == symptom.pk

    def test_skip_and_limit(self, alice_api, symptom, patient):
        for day in range(1, 6):
            SymptomOccurrenceFactory(
                patient=patient, symptom=symptom, occurrence_date=date(2025, 1, day)
            )
        page = alice_api.get(under(symptom), {"skip": 1, "limit": 2}).json()
        assert [item["occurrence_date"] for item in page] == ["2025-01-04", "2025-01-03"]
        assert alice_api.get(under(symptom), {"limit": "x"}).status_code == 422

    def test_queries_do_not_grow(self, alice_api, symptom, patient):
        SymptomOccurrenceFactory.create_batch(2, patient=patient, symptom=symptom)
        alice_api.get(under(symptom))
        with CaptureQueriesContext(connection) as few:
            assert len(alice_api.get(under(symptom)).json()) == 2
        SymptomOccurrenceFactory.create_batch(18, patient=patient, symptom=symptom)
        with CaptureQueriesContext(connection) as many:
            assert len(alice_api.get(under(symptom)).json()) == 20
        assert len(many) == len(few)


class TestAccess:
    def test_stranger_gets_404_for_the_symptom(self, client_for, mallory, symptom, patient):
        occurrence = SymptomOccurrenceFactory(patient=patient, symptom=symptom)
        api = client_for(mallory)
        body = {"occurrence_date": "2025-01-10", "severity": "mild"}
        assert api.get(under(symptom)).status_code == 404
        assert api.post(under(symptom), body, format="json").status_code == 404
        for method in ("get", "put", "delete"):
            response = getattr(api, method)(under(symptom, occurrence), body, format="json")
            assert response.status_code == 404
        assert SymptomOccurrence.objects.count() == 1

    def test_missing_symptom_is_404(self, alice_api, patient):
        assert alice_api.get(f"{API}/symptoms/999999/occurrences").status_code == 404

    def test_view_share_reads_but_cannot_write(self, client_for, bob, shared_patient):
        symptom = SymptomFactory(patient=shared_patient)
        occurrence = SymptomOccurrenceFactory(patient=shared_patient, symptom=symptom)
        api = client_for(bob)
        assert [i["id"] for i in api.get(under(symptom)).json()] == [occurrence.pk]
        assert api.get(under(symptom, occurrence)).status_code == 200
        body = {"occurrence_date": "2025-01-10", "severity": "mild"}
        assert api.post(under(symptom), body, format="json").status_code == 403
        assert api.put(under(symptom, occurrence), {"severity": "critical"}).status_code == 403
        assert api.delete(under(symptom, occurrence)).status_code == 403
        occurrence.refresh_from_db()
        assert occurrence.severity == "moderate" and SymptomOccurrence.objects.count() == 1

    @pytest.mark.parametrize("persona", ["carol", "dave"])
    def test_edit_and_full_shares_write(self, client_for, shared_patient, persona, request):
        symptom = SymptomFactory(patient=shared_patient)
        api = client_for(request.getfixturevalue(persona))
        body = {"occurrence_date": "2025-01-10", "severity": "mild"}
        created = api.post(under(symptom), body, format="json")
        assert created.status_code == 201, created.content
        occurrence = SymptomOccurrence.objects.get(pk=created.json()["id"])
        assert api.put(under(symptom, occurrence), {"severity": "severe"}).status_code == 200
        assert api.delete(under(symptom, occurrence)).status_code == 200

    def test_anonymous_is_401(self, anon, symptom):
        assert anon.get(under(symptom)).status_code == 401


class TestValidation:
    @pytest.mark.parametrize(
        "body",
        [
            {"severity": "unbearable"},
            {"severity": None},
            {"pain_scale": 11},
            {"pain_scale": -1},
            {"pain_scale": "lots"},
            {"duration_minutes": 100_001},
            {"duration_minutes": 10**30},
            {"duration_minutes": "long"},
            {"time_of_day": "noon"},
            {"impact_level": "huge"},
            {"location": "x" * 201},
            {"notes": "x" * 2001},
            {"triggers": "light"},
            {"triggers": ["x" * 101]},
            {"relief_methods": [f"r{i}" for i in range(21)]},
            {"associated_symptoms": [["nested"]]},
            {"occurrence_date": "2999-01-01"},
            {"occurrence_date": "not a date"},
            {"occurred_at": "2999-01-01T10:00:00Z"},
            {"occurred_at": "whenever"},
            {"resolved_date": "2025-01-01"},
            {"duration": "x" * 101},
            {"duration": ["2 hours"]},
            {"resolved_time": "late"},
            {"resolved_time": "25:00"},
            {"resolution_notes": "x" * 2001},
        ],
    )
    def test_bad_input_is_422(self, alice_api, symptom, body):
        response = alice_api.post(
            under(symptom),
            {"occurrence_date": "2025-01-10", "severity": "mild", **body},
            format="json",
        )
        assert response.status_code == 422, response.content
        assert {key.split("[")[0] for key in response.json()["errors"]} & set(body)
        assert not SymptomOccurrence.objects.exists()

    def test_a_date_is_required(self, alice_api, symptom):
        response = alice_api.post(under(symptom), {"severity": "mild"}, format="json")
        assert response.status_code == 422
        assert "occurrence_date" in response.json()["errors"]

    def test_severity_is_required(self, alice_api, symptom):
        response = alice_api.post(under(symptom), {"occurrence_date": "2025-01-10"})
        assert response.status_code == 422 and "severity" in response.json()["errors"]

    def test_occurred_at_must_fall_on_the_occurrence_date(self, alice_api, symptom):
        response = alice_api.post(
            under(symptom),
            {
                "occurrence_date": "2025-01-10",
                "occurred_at": "2025-01-12T10:00:00Z",
                "severity": "mild",
            },
            format="json",
        )
        assert response.status_code == 422 and "occurred_at" in response.json()["errors"]

    def test_top_level_path_needs_a_symptom(self, alice_api, patient):
        response = alice_api.post(
            f"{API}/symptom-occurrences",
            {"occurrence_date": "2025-01-10", "severity": "mild"},
            format="json",
        )
        assert response.status_code == 422 and "symptom_id" in response.json()["errors"]

    def test_changing_the_day_keeps_the_time(self, alice_api, symptom):
        created = alice_api.post(
            under(symptom),
            {"occurred_at": "2025-01-10T14:30:00Z", "severity": "mild"},
            format="json",
        ).json()
        occurrence = SymptomOccurrence.objects.get(pk=created["id"])
        updated = alice_api.put(under(symptom, occurrence), {"occurrence_date": "2025-01-08"})
        assert updated.status_code == 200, updated.content
        occurrence.refresh_from_db()
        local = timezone.localtime(occurrence.occurred_at)
        assert local.date() == date(2025, 1, 8)
        before = timezone.localtime(datetime.fromisoformat("2025-01-10T14:30:00+00:00"))
        assert local.time() == before.time()


# The web app's occurrence form as it sends it on create and edit (§5.15).
APP_BODY = {
    "occurrence_date": "2025-01-10",
    "occurrence_time": "14:30:00",
    "severity": "moderate",
    "pain_scale": 6,
    "duration": "",
    "location": "",
    "impact_level": "",
    "triggers": [],
    "relief_methods": [],
    "associated_symptoms": [],
    "resolved_date": None,
    "resolved_time": None,
    "resolution_notes": "",
    "notes": "",
}
RESOLVED = {
    "duration": "  2 hours ",
    "resolved_date": "2025-01-10",
    "resolved_time": "16:45:00",
    "resolution_notes": "Ibuprofen and a dark room",
}


class TestDurationAndResolution:
    def test_the_apps_empty_body(self, alice_api, symptom):
        created = alice_api.post(under(symptom), APP_BODY, format="json")
        assert created.status_code == 201, created.content
        got = created.json()
        assert got["duration"] == "" and got["resolution_notes"] == ""
        assert got["resolved_date"] is None and got["resolved_time"] is None
        assert got["duration_minutes"] is None

    def test_create_read_and_update(self, alice_api, symptom):
        created = alice_api.post(under(symptom), {**APP_BODY, **RESOLVED}, format="json")
        assert created.status_code == 201, created.content
        occurrence = SymptomOccurrence.objects.get(pk=created.json()["id"])
        expected = {
            "duration": "2 hours",
            "resolved_date": "2025-01-10",
            "resolved_time": "16:45:00",
            "resolution_notes": "Ibuprofen and a dark room",
        }
        for answer in (
            created.json(),
            alice_api.get(under(symptom, occurrence)).json(),
            alice_api.get(under(symptom)).json()[0],
            alice_api.get(f"{API}/symptom-occurrences/{occurrence.pk}").json(),
        ):
            assert {key: answer[key] for key in expected} == expected
        edited = alice_api.put(
            under(symptom, occurrence),
            {
                **APP_BODY,
                "duration": "all afternoon",
                "resolved_date": "2025-01-11",
                "resolved_time": "09:00",
                "resolution_notes": "Slept it off",
            },
            format="json",
        )
        assert edited.status_code == 200, edited.content
        occurrence.refresh_from_db()
        assert occurrence.duration == "all afternoon"
        assert occurrence.resolved_date == date(2025, 1, 11)
        assert occurrence.resolved_time.isoformat() == "09:00:00"
        assert occurrence.resolution_notes == "Slept it off"
        # The form's empties clear them; a partial update leaves them alone.
        cleared = alice_api.put(under(symptom, occurrence), APP_BODY, format="json").json()
        assert cleared["duration"] == "" and cleared["resolution_notes"] == ""
        assert cleared["resolved_date"] is None and cleared["resolved_time"] is None
        alice_api.put(under(symptom, occurrence), {**APP_BODY, **RESOLVED}, format="json")
        partial = alice_api.put(under(symptom, occurrence), {"pain_scale": 2}).json()
        assert {key: partial[key] for key in expected} == expected
        blank_time = alice_api.put(
            under(symptom, occurrence), {"resolved_time": "", "duration": None}, format="json"
        ).json()
        assert blank_time["resolved_time"] is None and blank_time["duration"] == ""

    def test_duration_text_and_minutes_are_independent(self, alice_api, symptom):
        created = alice_api.post(
            under(symptom),
            {**APP_BODY, "duration": "about 2 hours", "duration_minutes": 120},
            format="json",
        ).json()
        url = under(symptom, SymptomOccurrence.objects.get(pk=created["id"]))
        assert created["duration"] == "about 2 hours" and created["duration_minutes"] == 120
        got = alice_api.put(url, {"duration_minutes": 90}, format="json").json()
        assert got["duration"] == "about 2 hours" and got["duration_minutes"] == 90
        got = alice_api.put(url, {"duration": "90 min"}, format="json").json()
        assert got["duration"] == "90 min" and got["duration_minutes"] == 90

    def test_resolved_time_before_the_start_on_the_same_day_is_422(self, alice_api, symptom):
        body = {**APP_BODY, "resolved_date": "2025-01-10", "resolved_time": "14:00:00"}
        response = alice_api.post(under(symptom), body, format="json")
        assert response.status_code == 422, response.content
        assert "resolved_time" in response.json()["errors"]
        # The next day, or with no start time, any time of day is fine.
        for later in (
            {**body, "resolved_date": "2025-01-11"},
            {**body, "occurrence_time": None},
        ):
            assert alice_api.post(under(symptom), later, format="json").status_code == 201

    def test_an_edit_before_the_start_is_refused(self, alice_api, symptom, patient):
        occurrence = SymptomOccurrenceFactory(patient=patient, symptom=symptom, resolved=True)
        response = alice_api.put(
            under(symptom, occurrence), {"resolved_date": "2025-01-14"}, format="json"
        )
        assert response.status_code == 422 and "resolved_date" in response.json()["errors"]
        long = alice_api.put(under(symptom, occurrence), {"duration": "x" * 101}, format="json")
        assert long.status_code == 422 and "duration" in long.json()["errors"]
        occurrence.refresh_from_db()
        assert occurrence.resolved_date == date(2025, 1, 15) and occurrence.duration == "2 hours"

    def test_refusals(self, client_for, bob, mallory, anon, shared_patient):
        symptom = SymptomFactory(patient=shared_patient)
        occurrence = SymptomOccurrenceFactory(patient=shared_patient, symptom=symptom)
        body = {"resolution_notes": "changed", "duration": "1 hour"}
        assert client_for(bob).put(under(symptom, occurrence), body).status_code == 403
        assert client_for(mallory).put(under(symptom, occurrence), body).status_code == 404
        assert anon.put(under(symptom, occurrence), body).status_code == 401
        occurrence.refresh_from_db()
        assert occurrence.resolution_notes == "" and occurrence.duration == "2 hours"


class TestSymptomDates:
    def add(self, api, symptom, day):
        response = api.post(
            under(symptom), {"occurrence_date": day, "severity": "mild"}, format="json"
        )
        assert response.status_code == 201, response.content
        return SymptomOccurrence.objects.get(pk=response.json()["id"])

    def test_occurrences_move_the_dates(self, alice_api, symptom):
        self.add(alice_api, symptom, "2025-03-10")
        assert dates(symptom) == (date(2025, 3, 10), date(2025, 3, 10))
        self.add(alice_api, symptom, "2025-03-20")
        assert dates(symptom) == (date(2025, 3, 10), date(2025, 3, 20))
        earliest = self.add(alice_api, symptom, "2025-03-01")
        assert dates(symptom) == (date(2025, 3, 1), date(2025, 3, 20))
        self.add(alice_api, symptom, "2025-03-15")
        assert dates(symptom) == (date(2025, 3, 1), date(2025, 3, 20))
        assert alice_api.get(f"{API}/symptoms/{symptom.pk}").json()["last_occurrence_date"] == (
            "2025-03-20"
        )
        # Moving an occurrence later makes it the last one.
        alice_api.put(under(symptom, earliest), {"occurrence_date": "2025-03-25"})
        assert dates(symptom) == (date(2025, 3, 1), date(2025, 3, 25))
        # Deleting the latest one gives the last date back to the one before it; the first
        # date never moves later (the symptom may have begun before it was logged).
        alice_api.delete(under(symptom, earliest))
        assert dates(symptom) == (date(2025, 3, 1), date(2025, 3, 20))

    def test_a_first_date_given_earlier_is_kept(self, alice_api, patient):
        symptom = SymptomFactory(patient=patient, first_occurrence_date=date(2024, 1, 1))
        self.add(alice_api, symptom, "2025-03-10")
        assert dates(symptom) == (date(2024, 1, 1), date(2025, 3, 10))

    def test_moving_to_another_symptom_refreshes_both(self, alice_api, symptom, patient):
        other = SymptomFactory(patient=patient)
        self.add(alice_api, symptom, "2025-03-01")
        moving = self.add(alice_api, symptom, "2025-03-09")
        response = alice_api.put(
            f"{API}/symptom-occurrences/{moving.pk}", {"symptom_id": other.pk}, format="json"
        )
        assert response.status_code == 200, response.content
        assert dates(symptom) == (date(2025, 3, 1), date(2025, 3, 1))
        assert dates(other) == (date(2025, 3, 9), date(2025, 3, 9))

    def test_moving_to_another_patients_symptom_is_refused(self, alice_api, symptom, alice):
        moving = self.add(alice_api, symptom, "2025-03-09")
        elsewhere = SymptomFactory(patient=PatientFactory(owner=alice))
        response = alice_api.put(
            f"{API}/symptom-occurrences/{moving.pk}", {"symptom_id": elsewhere.pk}, format="json"
        )
        assert response.status_code == 400
        moving.refresh_from_db()
        assert moving.symptom_id == symptom.pk

    def test_refused_writes_change_nothing(self, client_for, bob, shared_patient):
        symptom = SymptomFactory(patient=shared_patient)
        client_for(bob).post(
            under(symptom),
            {"occurrence_date": str(timezone.localdate() - timedelta(days=1)), "severity": "mild"},
            format="json",
        )
        assert dates(symptom) == (None, None)
