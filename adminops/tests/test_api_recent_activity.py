"""GET /api/v1/patients/me/recent-activity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from adminops.models import ActivityLog
from adminops.tests.factories import ActivityLogFactory
from patients.models import PatientShare
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/me/recent-activity"
ITEM_KEYS = {
    "id",
    "model_name",
    "entity_type",
    "entity_id",
    "action",
    "description",
    "timestamp",
    "patient_id",
    "user_id",
}


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()]


def log_rows(count: int, **fields) -> list[ActivityLog]:
    """`count` rows, one minute apart, oldest first."""
    start = timezone.now() - timedelta(hours=1)
    return [
        ActivityLogFactory(timestamp=start + timedelta(minutes=n), **fields) for n in range(count)
    ]


class TestOwnActivity:
    def test_lists_the_callers_actions_newest_first(
        self, alice_api, alice, patient, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            created = alice_api.post(
                "/api/v1/medications", {"medication_name": "Aspirin", "dosage": "100mg"}
            )
            alice_api.patch(f"/api/v1/medications/{created.json()['id']}", {"dosage": "200mg"})

        response = alice_api.get(URL)

        assert response.status_code == 200
        body = response.json()
        assert [item["action"] for item in body] == ["updated", "created"]
        newest = body[0]
        assert set(newest) == ITEM_KEYS
        assert newest["model_name"] == "Medication"
        assert newest["entity_type"] == "medication"
        assert newest["entity_id"] == created.json()["id"]
        assert newest["description"] == "Updated Medication: Aspirin 200mg"
        assert newest["patient_id"] == patient.pk
        assert newest["user_id"] == alice.pk
        assert newest["timestamp"].endswith("Z") and parse_datetime(newest["timestamp"])

    def test_only_the_callers_own_actions(self, client_for, alice, carol, shared_patient):
        by_alice = log_rows(2, user=alice, patient=shared_patient)
        log_rows(2, user=carol, patient=shared_patient)

        assert ids(client_for(alice).get(URL)) == [row.pk for row in reversed(by_alice)]

    def test_across_every_patient_the_caller_can_see(self, client_for, alice, dave, shared_patient):
        own = PatientFactory(owner=dave)
        rows = [
            ActivityLogFactory(user=dave, patient=shared_patient),
            ActivityLogFactory(user=dave, patient=own),
        ]

        assert sorted(ids(client_for(dave).get(URL))) == sorted(row.pk for row in rows)

    def test_rows_of_patients_no_longer_shared_disappear(self, client_for, carol, shared_patient):
        ActivityLogFactory(user=carol, patient=shared_patient)
        PatientShare.objects.filter(grantee=carol).update(is_active=False)

        assert client_for(carol).get(URL).json() == []

    def test_expired_shares_count_as_gone(self, client_for, carol, shared_patient):
        ActivityLogFactory(user=carol, patient=shared_patient)
        PatientShare.objects.filter(grantee=carol).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )

        assert client_for(carol).get(URL).json() == []

    def test_rows_without_a_patient_are_shown(self, alice_api, alice):
        row = ActivityLogFactory(
            user=alice, patient=None, entity_type="patient", description="Deleted Patient: X"
        )

        assert ids(alice_api.get(URL)) == [row.pk]

    def test_mallory_never_sees_alices_rows(self, client_for, alice, mallory, patient):
        log_rows(3, user=alice, patient=patient)
        log_rows(1, user=alice, patient=None)
        mine = ActivityLogFactory(user=mallory, patient=PatientFactory(owner=mallory))

        assert ids(client_for(mallory).get(URL)) == [mine.pk]
        assert client_for(mallory).get(URL, {"patient_id": patient.pk}).status_code == 403

    def test_answers_with_a_trailing_slash_too(self, alice_api, alice):
        assert alice_api.get(URL + "/").status_code == 200

    def test_anonymous_is_401(self, anon):
        response = anon.get(URL)

        assert response.status_code == 401
        assert response.json()["status"] == "error"


class TestLimit:
    def test_default_is_ten(self, alice_api, alice, patient):
        rows = log_rows(12, user=alice, patient=patient)

        assert ids(alice_api.get(URL)) == [row.pk for row in reversed(rows)][:10]

    @pytest.mark.parametrize(("limit", "expected"), [(1, 1), (3, 3), (100, 4)])
    def test_limit_within_bounds(self, alice_api, alice, patient, limit, expected):
        log_rows(4, user=alice, patient=patient)

        response = alice_api.get(URL, {"limit": limit})

        assert response.status_code == 200
        assert len(response.json()) == expected

    @pytest.mark.parametrize("limit", ["0", "-1", "101", "ten"])
    def test_limit_out_of_bounds_is_422(self, alice_api, alice, limit):
        response = alice_api.get(URL, {"limit": limit})

        assert response.status_code == 422
        assert "limit" in response.json()["errors"]


class TestPatientActivity:
    def test_everyones_rows_for_that_patient(self, client_for, alice, bob, carol, shared_patient):
        rows = [
            *log_rows(1, user=alice, patient=shared_patient),
            *log_rows(1, user=carol, patient=shared_patient),
        ]
        log_rows(1, user=alice, patient=PatientFactory(owner=alice))

        response = client_for(bob).get(URL, {"patient_id": shared_patient.pk})

        assert response.status_code == 200
        assert ids(response) == [row.pk for row in reversed(rows)]

    def test_limit_applies(self, alice_api, alice, patient):
        log_rows(5, user=alice, patient=patient)

        assert len(alice_api.get(URL, {"patient_id": patient.pk, "limit": 2}).json()) == 2

    def test_stranger_is_403(self, client_for, mallory, patient):
        log_rows(1, patient=patient)

        response = client_for(mallory).get(URL, {"patient_id": patient.pk})

        assert response.status_code == 403
        assert response.json()["error"] == "You are not authorized to access this patient"

    def test_unknown_patient_is_404(self, alice_api, alice):
        assert alice_api.get(URL, {"patient_id": 987654}).status_code == 404

    @pytest.mark.parametrize("value", ["abc", "0", str(2**70)])
    def test_junk_patient_id_is_422(self, alice_api, alice, value):
        response = alice_api.get(URL, {"patient_id": value})

        assert response.status_code == 422
        assert "patient_id" in response.json()["errors"]

    def test_empty_patient_id_means_none(self, alice_api, alice, patient):
        row = ActivityLogFactory(user=alice, patient=patient)

        assert ids(alice_api.get(URL, {"patient_id": ""})) == [row.pk]


class TestQueryCount:
    @pytest.mark.parametrize("by_patient", [False, True], ids=["own", "by-patient"])
    def test_does_not_grow_with_the_rows(
        self, client_for, alice, carol, shared_patient, django_assert_num_queries, by_patient
    ):
        client = client_for(carol)
        query = {"patient_id": shared_patient.pk, "limit": 50} if by_patient else {"limit": 50}
        log_rows(2, user=carol, patient=shared_patient)
        with CaptureQueriesContext(connection) as few:
            assert len(client.get(URL, query).json()) == 2
        # One query reads the page; none per row (no user, patient or type lookups).
        assert sum("adminops_activitylog" in q["sql"] for q in few.captured_queries) == 1

        log_rows(18, user=carol, patient=shared_patient)
        with django_assert_num_queries(len(few.captured_queries)):
            assert len(client.get(URL, query).json()) == 20


APP_URL = "/api/v1/patients/recent-activity/"  # the web app's dashboard, trailing slash included


class TestAppPath:
    """The same list at the web app's path, as the dashboard calls it (web-client-api.md §4)."""

    def test_bare_array_of_what_the_dashboard_reads(
        self, alice_api, alice, patient, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            alice_api.post("/api/v1/medications", {"medication_name": "Aspirin"}, format="json")

        response = alice_api.get(APP_URL, {"patient_id": patient.pk})

        assert response.status_code == 200
        [item] = response.json()
        assert {"id", "model_name", "action", "description", "timestamp"} <= set(item)
        assert (item["model_name"], item["action"]) == ("Medication", "created")
        assert item["description"] == "Created Medication: Aspirin"

    @pytest.mark.parametrize("path", [APP_URL, APP_URL.rstrip("/"), URL, URL + "/"])
    def test_both_paths_answer_the_same(self, alice_api, alice, patient, path):
        rows = log_rows(3, user=alice, patient=patient)

        assert ids(alice_api.get(path)) == [row.pk for row in reversed(rows)]

    def test_view_share_sees_the_patients_activity(self, client_for, alice, bob, shared_patient):
        rows = log_rows(2, user=alice, patient=shared_patient)

        response = client_for(bob).get(APP_URL, {"patient_id": shared_patient.pk, "limit": 1})

        assert ids(response) == [rows[-1].pk]

    def test_without_patient_id_only_what_the_caller_may_see(
        self, client_for, alice, carol, shared_patient
    ):
        mine = log_rows(1, user=carol, patient=shared_patient)
        log_rows(1, user=alice, patient=PatientFactory(owner=alice))
        PatientShare.objects.filter(grantee=carol).update(is_active=False)
        assert client_for(carol).get(APP_URL).json() == []
        PatientShare.objects.filter(grantee=carol).update(is_active=True)
        assert ids(client_for(carol).get(APP_URL)) == [mine[0].pk]

    def test_stranger_is_refused_as_everywhere(self, client_for, mallory, patient):
        log_rows(1, patient=patient)

        response = client_for(mallory).get(APP_URL, {"patient_id": patient.pk})

        assert response.status_code == 403
        assert response.json()["error"] == "You are not authorized to access this patient"

    def test_anonymous_is_401(self, anon):
        assert anon.get(APP_URL).status_code == 401

    def test_only_record_changes(self, alice_api, alice, patient):
        shown = ActivityLogFactory(user=alice, patient=patient, action="deleted")
        ActivityLogFactory(user=alice, patient=None, action="backup_created")

        assert ids(alice_api.get(APP_URL)) == [shown.pk]

    def test_query_count_does_not_grow(
        self, client_for, alice, bob, shared_patient, django_assert_num_queries
    ):
        client = client_for(bob)
        query = {"patient_id": shared_patient.pk, "limit": 50}
        log_rows(2, user=alice, patient=shared_patient)
        with CaptureQueriesContext(connection) as few:
            assert len(client.get(APP_URL, query).json()) == 2

        log_rows(18, user=alice, patient=shared_patient)
        # Authentication, the access check and one read of the page, whatever the row count.
        with django_assert_num_queries(len(few.captured_queries)):
            assert len(client.get(APP_URL, query).json()) == 20
