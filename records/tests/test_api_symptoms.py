from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.tests.factories import PatientFactory
from records.models import Symptom, SymptomOccurrence
from records.tests.factories import SymptomFactory, SymptomOccurrenceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/symptoms"


class TestSymptoms:
    def test_the_contracts_example_body(self, alice_api, patient):
        body = {
            "patient_id": patient.pk,
            "symptom_name": "Headache",
            "body_part": "Head",
            "status": "active",
            "notes": "Recurring tension headaches",
        }
        response = alice_api.post(f"{URL}/", body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["symptom_name"] == "Headache" and got["body_part"] == "Head"
        assert got["notes"] == got["general_notes"] == "Recurring tension headaches"
        assert got["occurrence_count"] == 0
        assert got["first_occurrence_date"] is None and got["last_occurrence_date"] is None
        assert got["is_chronic"] is False and got["typical_triggers"] == []

    def test_reference_field_names_and_spellings(self, alice_api, patient):
        response = alice_api.post(
            URL,
            {
                "symptom_name": "  Migraine ",
                "status": "Resolved",
                "general_notes": "Aura first",
                "category": None,
                "typical_triggers": [" Stress ", "stress", "", "Light"],
                "first_occurrence_date": "2024-02-01",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["symptom_name"] == "Migraine" and got["status"] == "resolved"
        assert got["notes"] == "Aura first" and got["category"] == ""
        assert got["typical_triggers"] == ["Stress", "stress", "Light"]

    def test_the_web_apps_recurring_status_is_kept(self, alice_api, patient):
        body = {"symptom_name": "Migraine", "first_occurrence_date": "2025-01-01"}
        response = alice_api.post(URL, {**body, "status": "recurring"}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "recurring"

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "sometimes"},
            {"symptom_name": "x" * 201},
            {"symptom_name": "   "},
            {"category": "x" * 101},
            {"notes": "x" * 2001},
            {"typical_triggers": ["x" * 101]},
            {"typical_triggers": [f"t{i}" for i in range(21)]},
            {"typical_triggers": "stress"},
            {"is_chronic": "sometimes"},
            {"first_occurrence_date": "yesterday"},
            {"last_occurrence_date": "2999-01-01"},
            {"first_occurrence_date": "2025-03-01", "last_occurrence_date": "2025-02-01"},
            {"first_occurrence_date": "2025-03-01", "resolved_date": "2025-02-28"},
            {"resolved_date": "2999-01-01"},
            {"resolved_date": "when it stopped"},
            {"tags": [f"t{i}" for i in range(16)]},
        ],
    )
    def test_bad_input_is_422(self, alice_api, patient, body):
        response = alice_api.post(URL, {"symptom_name": "Cough", **body}, format="json")
        assert response.status_code == 422, response.content
        assert {key.split("[")[0] for key in response.json()["errors"]} & set(body)
        assert not Symptom.objects.exists()

    def test_name_is_required(self, alice_api, patient):
        response = alice_api.post(URL, {"status": "active"}, format="json")
        assert response.status_code == 422 and "symptom_name" in response.json()["errors"]

    def test_search_status_and_chronic_filters(self, alice_api, patient):
        headache = SymptomFactory(patient=patient, symptom_name="Tension headache")
        SymptomFactory(patient=patient, symptom_name="Cough", status="resolved")
        chronic = SymptomFactory(patient=patient, symptom_name="Back pain", is_chronic=True)

        def ids(**params):
            return [item["id"] for item in alice_api.get(URL, params).json()]

        assert ids(search="HEADACHE") == [headache.pk]
        assert len(ids(status="resolved")) == 1
        assert sorted(ids(status="Active")) == sorted([headache.pk, chronic.pk])
        assert ids(status="nonsense") == []
        assert ids(is_chronic="true") == [chronic.pk]

    def test_occurrence_count_is_listed(self, alice_api, patient):
        symptom = SymptomFactory(patient=patient)
        SymptomOccurrenceFactory.create_batch(3, patient=patient, symptom=symptom)
        SymptomFactory(patient=patient)
        counts = {item["id"]: item["occurrence_count"] for item in alice_api.get(URL).json()}
        assert counts[symptom.pk] == 3 and sorted(counts.values()) == [0, 3]
        assert alice_api.get(f"{URL}/{symptom.pk}").json()["occurrence_count"] == 3

    def test_delete_removes_the_occurrences(self, alice_api, patient):
        symptom = SymptomFactory(patient=patient)
        SymptomOccurrenceFactory.create_batch(2, patient=patient, symptom=symptom)
        response = alice_api.delete(f"{URL}/{symptom.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Symptom deleted successfully"}
        assert not SymptomOccurrence.objects.exists()


def app_body(patient, **changes):
    """The web app's symptom form as it sends it on create and edit (§5.15)."""
    return {
        "symptom_name": "Headache",
        "category": "",
        "first_occurrence_date": "2024-02-01",
        "status": "active",
        "is_chronic": False,
        "resolved_date": None,
        "typical_triggers": ["stress"],
        "general_notes": "",
        "tags": [],
        "patient_id": patient.pk,
        **changes,
    }


class TestResolvedDate:
    def test_the_apps_body_keeps_the_resolved_date(self, alice_api, patient):
        created = alice_api.post(f"{URL}/", app_body(patient), format="json")
        assert created.status_code == 201, created.content
        assert created.json()["resolved_date"] is None
        url = f"{URL}/{created.json()['id']}"
        resolved = app_body(patient, status="resolved", resolved_date="2024-03-10")
        edited = alice_api.put(url, resolved, format="json")
        assert edited.status_code == 200, edited.content
        assert edited.json()["resolved_date"] == "2024-03-10"
        read = alice_api.get(url).json()
        assert read["resolved_date"] == "2024-03-10" and read["status"] == "resolved"
        assert alice_api.get(URL).json()[0]["resolved_date"] == "2024-03-10"
        # Reopened: the app sends the empty date as "" or null; both clear it.
        for empty in ("", None):
            alice_api.put(url, resolved, format="json")
            reopened = alice_api.put(
                url, app_body(patient, status="active", resolved_date=empty), format="json"
            )
            assert reopened.status_code == 200, reopened.content
            assert reopened.json()["resolved_date"] is None
        # A partial update leaves it alone.
        alice_api.put(url, resolved, format="json")
        assert alice_api.put(url, {"is_chronic": True}).json()["resolved_date"] == "2024-03-10"

    def test_created_resolved(self, alice_api, patient):
        body = app_body(patient, status="resolved", resolved_date="2024-02-01")
        created = alice_api.post(f"{URL}/", body, format="json")
        assert created.status_code == 201, created.content
        symptom = Symptom.objects.get(pk=created.json()["id"])
        assert symptom.resolved_date == date(2024, 2, 1) and symptom.status == "resolved"

    def test_an_edit_cannot_put_it_before_the_first_occurrence(self, alice_api, patient):
        symptom = SymptomFactory(patient=patient, resolved=True)
        for body in (
            {"resolved_date": "2025-01-09"},
            {"first_occurrence_date": "2025-02-02"},
            app_body(patient, first_occurrence_date="2025-01-10", resolved_date="2024-12-31"),
        ):
            response = alice_api.put(f"{URL}/{symptom.pk}", body, format="json")
            assert response.status_code == 422, response.content
            assert "resolved_date" in response.json()["errors"]
        symptom.refresh_from_db()
        assert (symptom.first_occurrence_date, symptom.resolved_date) == (
            date(2025, 1, 10),
            date(2025, 2, 1),
        )

    def test_refusals(self, client_for, bob, mallory, anon, shared_patient):
        symptom = SymptomFactory(patient=shared_patient)
        body = {"resolved_date": "2025-01-01"}
        assert client_for(bob).put(f"{URL}/{symptom.pk}", body).status_code == 403
        assert client_for(mallory).put(f"{URL}/{symptom.pk}", body).status_code == 404
        assert anon.put(f"{URL}/{symptom.pk}", body).status_code == 401
        symptom.refresh_from_db()
        assert symptom.resolved_date is None

    def test_an_occurrence_after_it_does_not_become_the_first(self, alice_api, patient):
        # No first date but a resolved one: a later episode is a recurrence, not the start.
        symptom = SymptomFactory(patient=patient, resolved_date=date(2025, 1, 1))
        response = alice_api.post(
            f"{URL}/{symptom.pk}/occurrences",
            {"occurrence_date": "2025-02-01", "severity": "mild"},
            format="json",
        )
        assert response.status_code == 201, response.content
        symptom.refresh_from_db()
        assert symptom.first_occurrence_date is None
        assert symptom.last_occurrence_date == date(2025, 2, 1)
        earlier = alice_api.post(
            f"{URL}/{symptom.pk}/occurrences",
            {"occurrence_date": "2024-12-20", "severity": "mild"},
            format="json",
        )
        assert earlier.status_code == 201, earlier.content
        symptom.refresh_from_db()
        assert symptom.first_occurrence_date == date(2024, 12, 20)


def occurrence(symptom, day, severity="moderate", pain=None):
    return SymptomOccurrenceFactory(
        patient=symptom.patient,
        symptom=symptom,
        occurrence_date=day,
        severity=severity,
        pain_scale=pain,
    )


class TestStats:
    def test_counts_and_most_frequent(self, alice_api, patient):
        today = timezone.localdate()
        migraine = SymptomFactory(patient=patient, symptom_name="Migraine", is_chronic=True)
        cough = SymptomFactory(patient=patient, symptom_name="Cough", status="resolved")
        SymptomFactory(patient=patient, symptom_name="Rash", status="inactive")
        for days_ago in (1, 2, 40):
            occurrence(migraine, today - timedelta(days=days_ago))
        occurrence(cough, today - timedelta(days=60))
        SymptomOccurrenceFactory()  # somebody else's
        response = alice_api.get(f"{URL}/stats")
        assert response.status_code == 200
        assert response.json() == {
            "patient_id": patient.pk,
            "total_symptoms": 3,
            "active_symptoms": 1,
            "inactive_symptoms": 1,
            "resolved_symptoms": 1,
            "chronic_symptoms": 1,
            "total_occurrences": 4,
            "recent_occurrences": 2,
            "most_frequent_symptom": "Migraine",
            "most_frequent_symptom_id": migraine.pk,
            "most_frequent_count": 3,
        }

    def test_empty_and_other_patient(self, alice_api, patient, alice):
        other = PatientFactory(owner=alice)
        SymptomFactory(patient=patient)
        got = alice_api.get(f"{URL}/stats", {"patient_id": other.pk}).json()
        assert got["patient_id"] == other.pk and got["total_symptoms"] == 0
        assert got["most_frequent_symptom"] is None and got["most_frequent_count"] is None

    def test_access(self, client_for, bob, mallory, shared_patient):
        SymptomFactory(patient=shared_patient)
        viewer = client_for(bob).get(f"{URL}/stats", {"patient_id": shared_patient.pk})
        assert viewer.status_code == 200 and viewer.json()["total_symptoms"] == 1
        stranger = client_for(mallory).get(f"{URL}/stats", {"patient_id": shared_patient.pk})
        assert stranger.status_code == 403
        assert client_for(bob).get(f"{URL}/stats", {"patient_id": "x"}).status_code in (403, 404)

    def test_queries_do_not_grow(self, alice_api, patient):
        symptom = SymptomFactory(patient=patient)
        occurrence(symptom, date(2025, 1, 1))
        alice_api.get(f"{URL}/stats")
        with CaptureQueriesContext(connection) as few:
            alice_api.get(f"{URL}/stats")
        for day in range(1, 20):
            occurrence(SymptomFactory(patient=patient), date(2025, 2, day))
        with CaptureQueriesContext(connection) as many:
            alice_api.get(f"{URL}/stats")
        assert len(many) == len(few)


class TestTimeline:
    def test_one_point_per_occurrence(self, alice_api, patient):
        migraine = SymptomFactory(patient=patient, symptom_name="Migraine")
        cough = SymptomFactory(patient=patient, symptom_name="Cough", status="resolved")
        late = occurrence(migraine, date(2025, 3, 4), "critical", pain=9)
        early = occurrence(cough, date(2025, 3, 1), "moderate")
        response = alice_api.get(f"{URL}/timeline")
        assert response.status_code == 200
        assert response.json() == [
            {
                "date": "2025-03-01",
                "symptom_name": "Cough",
                "severity": "moderate",
                "pain_scale": early.pain_scale,
                "occurrence_id": early.pk,
                "symptom_id": cough.pk,
                "resolved_date": None,
                "symptom_status": "resolved",
            },
            {
                "date": "2025-03-04",
                "symptom_name": "Migraine",
                "severity": "critical",
                "pain_scale": 9,
                "occurrence_id": late.pk,
                "symptom_id": migraine.pk,
                "resolved_date": None,
                "symptom_status": migraine.status,
            },
        ]

    def test_date_range(self, alice_api, patient):
        symptom = SymptomFactory(patient=patient)
        for day in (1, 5, 9):
            occurrence(symptom, date(2025, 3, day))
        got = alice_api.get(
            f"{URL}/timeline", {"start_date": "2025-03-02", "end_date": "2025-03-09"}
        ).json()
        assert [point["date"] for point in got] == ["2025-03-05", "2025-03-09"]
        assert alice_api.get(f"{URL}/timeline", {"start_date": "2025-03-06"}).json()[0]["date"] == (
            "2025-03-09"
        )

    @pytest.mark.parametrize(
        "params",
        [
            {"start_date": "soon"},
            {"end_date": "2025-13-01"},
            {"start_date": "2025-03-02", "end_date": "2025-03-01"},
        ],
    )
    def test_bad_dates_are_422(self, alice_api, patient, params):
        response = alice_api.get(f"{URL}/timeline", params)
        assert response.status_code == 422
        assert set(params) & set(response.json()["errors"])

    def test_access(self, client_for, bob, mallory, shared_patient):
        occurrence(SymptomFactory(patient=shared_patient), date(2025, 3, 1))
        params = {"patient_id": shared_patient.pk}
        assert len(client_for(bob).get(f"{URL}/timeline", params).json()) == 1
        assert client_for(mallory).get(f"{URL}/timeline", params).status_code == 403

    def test_queries_do_not_grow(self, alice_api, patient):
        symptom = SymptomFactory(patient=patient)
        occurrence(symptom, date(2025, 1, 1))
        alice_api.get(f"{URL}/timeline")
        with CaptureQueriesContext(connection) as few:
            alice_api.get(f"{URL}/timeline")
        for day in range(1, 20):
            occurrence(symptom, date(2025, 2, day))
        with CaptureQueriesContext(connection) as many:
            assert len(alice_api.get(f"{URL}/timeline").json()) == 20
        assert len(many) == len(few)


class TestAdmin:
    @pytest.fixture
    def admin_client(self, client, admin_user):
        client.force_login(admin_user)
        return client

    def test_pages_render(self, admin_client, patient):
        symptom = SymptomFactory(patient=patient, symptom_name="Migraine", resolved=True)
        occurrence = SymptomOccurrenceFactory(patient=patient, symptom=symptom, resolved=True)
        pages = [
            "/admin/records/symptom/",
            "/admin/records/symptom/?q=migraine&status__exact=active",
            "/admin/records/symptom/add/",
            f"/admin/records/symptom/{symptom.pk}/change/",
            "/admin/records/symptomoccurrence/?severity__exact=moderate",
            f"/admin/records/symptomoccurrence/{occurrence.pk}/change/",
        ]
        for page in pages:
            assert admin_client.get(page).status_code == 200, page

    def test_the_forms_show_the_resolution_fields(self, admin_client, patient):
        symptom = SymptomFactory(patient=patient, resolved=True)
        occurrence = SymptomOccurrenceFactory(patient=patient, symptom=symptom, resolved=True)
        page = admin_client.get(f"/admin/records/symptom/{symptom.pk}/change/").content.decode()
        assert 'name="resolved_date"' in page and 'name="occurrences-0-duration"' in page
        page = admin_client.get(
            f"/admin/records/symptomoccurrence/{occurrence.pk}/change/"
        ).content.decode()
        for name in ("duration", "duration_minutes", "resolved_time", "resolution_notes"):
            assert f'name="{name}"' in page, name
        assert "Rested in a dark room" in page

    def test_an_occurrence_takes_its_symptoms_patient(self, patient):
        symptom = SymptomFactory(patient=patient)
        occurrence = SymptomOccurrence(symptom=symptom, occurrence_date=date(2025, 1, 2))
        occurrence.severity = "mild"
        occurrence.full_clean(exclude=["patient"])
        occurrence.save()
        assert occurrence.patient_id == patient.pk
        symptom.refresh_from_db()
        assert symptom.last_occurrence_date == date(2025, 1, 2)
