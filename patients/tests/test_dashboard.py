"""GET /patients/me/dashboard-stats: record counts of one patient in one query.

patients/ never names record types; only this test does, to have rows to count (looked up
through the app registry, so that even the tests do not import records/).
"""

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import PatientShare, record_models
from patients.selectors import dashboard_stats
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/me/dashboard-stats"


def medication(patient, status="active"):
    model = apps.get_model("records", "Medication")
    return model.objects.create(patient=patient, medication_name="Aspirin", status=status)


def gauge(patient):
    return apps.get_model("records", "Gauge").objects.create(
        patient=patient, gauge_type="mood", value=5
    )


@pytest.fixture
def filled(shared_patient, alice):
    """alice's patient: 2 active and 1 stopped medication, 2 gauges; noise elsewhere."""
    medication(shared_patient)
    medication(shared_patient)
    medication(shared_patient, status="stopped")
    gauge(shared_patient)
    gauge(shared_patient)
    other = PatientFactory(owner=alice)
    medication(other)
    gauge(PatientFactory())
    return shared_patient


def expected_keys():
    keys = {"patient_id", "total_records"}
    for model in record_models():
        keys |= {model.dashboard_key, *model.dashboard_filters} - {None}
    return keys


class TestCounts:
    def test_counts_of_the_active_patient(self, alice_api, filled):
        response = alice_api.get(URL)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == expected_keys()
        assert body["patient_id"] == filled.pk
        assert body["total_medications"] == 3
        assert body["active_medications"] == 2  # really the active ones (the reference: all)
        assert body["total_gauges"] == 2
        assert body["total_records"] == 5

    def test_a_patient_without_records_has_zeros(self, alice_api, alice, filled):
        empty = PatientFactory(owner=alice)
        body = alice_api.get(URL, {"patient_id": empty.pk}).json()
        assert body["patient_id"] == empty.pk
        assert {k: v for k, v in body.items() if k != "patient_id"} == dict.fromkeys(
            expected_keys() - {"patient_id"}, 0
        )

    def test_one_query_whatever_the_number_of_types(self, filled, django_assert_num_queries):
        with django_assert_num_queries(1):
            stats = dashboard_stats(filled.pk)
        assert stats["total_records"] == 5

    def test_the_sql_is_built_once_per_process(self, filled, alice, monkeypatch):
        dashboard_stats(filled.pk)

        def rebuilt():
            raise AssertionError("the dashboard query was built again")

        monkeypatch.setattr("patients.models.record_models", rebuilt)
        other = PatientFactory(owner=alice)
        medication(other)
        assert dashboard_stats(other.pk)["total_medications"] == 1
        assert dashboard_stats(filled.pk)["active_medications"] == 2

    def test_request_queries_do_not_grow_with_records(self, client_for, bob, filled):
        client = client_for(bob)

        def count():
            with CaptureQueriesContext(connection) as queries:
                assert client.get(URL, {"patient_id": filled.pk}).status_code == 200
            return len(queries)

        before = count()
        for _ in range(5):
            medication(filled)
            gauge(filled)
        assert count() == before


class TestAccess:
    @pytest.mark.parametrize("persona", ["alice", "bob", "carol", "dave"])
    def test_every_level_may_read(self, request, client_for, persona, filled):
        client = client_for(request.getfixturevalue(persona))
        response = client.get(URL, {"patient_id": filled.pk})
        assert response.status_code == 200 and response.json()["total_records"] == 5

    @pytest.mark.parametrize("persona", ["mallory", "admin_user"])
    def test_strangers_are_403(self, request, client_for, persona, filled):
        client = client_for(request.getfixturevalue(persona))
        response = client.get(URL, {"patient_id": filled.pk})
        assert response.status_code == 403
        assert "total_records" not in response.json()

    def test_expired_share_is_403(self, client_for, bob, filled):
        PatientShare.objects.filter(grantee=bob).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        assert client_for(bob).get(URL, {"patient_id": filled.pk}).status_code == 403

    def test_unknown_patient_is_404(self, alice_api, filled):
        assert alice_api.get(URL, {"patient_id": 987654}).status_code == 404

    @pytest.mark.parametrize("value", ["abc", "0", "-1", "1" * 30])
    def test_junk_patient_id_is_422(self, alice_api, filled, value):
        response = alice_api.get(URL, {"patient_id": value})
        assert response.status_code == 422 and "patient_id" in response.json()["errors"]

    def test_user_without_patients_is_404(self, client_for, mallory):
        response = client_for(mallory).get(URL)
        assert response.status_code == 404
        assert response.json()["error"] == "No patient records found for user"

    def test_default_is_the_active_patient(self, client_for, bob, filled):
        # bob has no patient of his own and has not switched yet: nothing to default to.
        client = client_for(bob)
        assert client.get(URL).status_code == 404
        switched = client.post(
            "/api/v1/patient-management/switch", {"patient_id": filled.pk}, format="json"
        )
        assert switched.status_code == 200
        assert client.get(URL).json()["patient_id"] == filled.pk

    def test_anonymous_is_401(self, anon, filled):
        assert anon.get(URL).status_code == 401
