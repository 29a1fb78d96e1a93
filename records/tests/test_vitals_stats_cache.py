"""The per-patient cache of vitals statistics (VitalsQuerySet.patient_stats).

These tests commit for real (transaction=True): the cache is filled only outside a
transaction and dropped when a write commits, so a test inside the usual rolled-back
transaction would never see it work.
"""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import transaction

from patients.tests.factories import PatientFactory
from records.models import Vitals, vitals_stats
from records.models.vitals_stats import _cache_keys
from records.services import vitals_import
from records.tests.factories import VitalsFactory
from records.tests.test_api_vitals_import import CLARITY, local

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/vitals"
DAY = dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC)


def reading(patient, days=0, **fields):
    fields = {"systolic_bp": None, "diastolic_bp": None, "heart_rate": 70, **fields}
    return VitalsFactory(patient=patient, recorded_date=DAY + dt.timedelta(days=days), **fields)


def cached(patient):
    return Vitals.objects.patient_stats(patient.pk)


def fresh(patient):
    return Vitals.objects.for_patient(patient.pk).stats(patient.pk)


@pytest.fixture
def warm(patient):
    """alice's patient with three pulse readings and its statistics in the cache."""
    for day, rate in enumerate((60, 70, 80)):
        reading(patient, day, heart_rate=rate)
    assert cached(patient)["total_readings"] == 3
    assert cache.get(_cache_keys(patient.pk)[0]) is not None
    return patient


def test_the_second_read_is_served_from_the_cache(warm, django_assert_num_queries):
    with django_assert_num_queries(0):
        stats = cached(warm)
    assert stats == fresh(warm)


def test_the_endpoint_serves_the_cache_and_filtered_statistics_bypass_it(alice_api, warm):
    url = f"{URL}/patient/{warm.pk}/stats"
    first = alice_api.get(url).json()
    # Written behind the ORM's back: only the cache still shows the pulse of 80.
    Vitals.objects.filter(heart_rate=80).order_by()._raw_delete(Vitals.objects.db)
    assert alice_api.get(url).json() == first
    assert alice_api.get(url, {"vital_type": "heart_rate"}).json()["total_readings"] == 2


def test_create_through_the_api(alice_api, warm):
    body = {"patient_id": warm.pk, "recorded_date": "2025-03-10T08:00:00Z", "heart_rate": 90}
    assert alice_api.post(f"{URL}/", body, format="json").status_code == 201
    assert cached(warm)["total_readings"] == 4
    assert cached(warm) == fresh(warm)


def test_update_through_the_api(alice_api, warm):
    record = Vitals.objects.get(heart_rate=80)
    response = alice_api.patch(f"{URL}/{record.pk}", {"heart_rate": 110}, format="json")
    assert response.status_code == 200, response.content
    assert cached(warm)["measures"]["heart_rate"]["max"] == 110
    assert cached(warm) == fresh(warm)


def test_delete_through_the_api(alice_api, warm):
    record = Vitals.objects.get(heart_rate=80)
    assert alice_api.delete(f"{URL}/{record.pk}").status_code == 200
    assert cached(warm)["total_readings"] == 2
    assert cached(warm) == fresh(warm)


def test_moving_a_reading_changes_both_patients(alice, warm):
    other = PatientFactory(owner=alice)
    assert cached(other)["total_readings"] == 0
    record = Vitals.objects.get(heart_rate=80)
    record.patient = other
    record.save()
    assert (cached(warm)["total_readings"], cached(other)["total_readings"]) == (2, 1)


def test_import_and_deleting_an_imported_day(warm):
    result = vitals_import.import_execute(
        patient_id=warm.pk, device_key="dexcom_clarity", data=CLARITY.encode()
    )
    assert result["imported_count"] == 3
    assert cached(warm)["measures"]["blood_glucose"]["count"] == 3
    deleted = vitals_import.delete_imported_day(
        patient_id=warm.pk, import_source="dexcom_clarity", day=local("2025-01-15").date()
    )
    assert deleted == 2
    assert cached(warm)["measures"]["blood_glucose"]["count"] == 1
    assert cached(warm) == fresh(warm)


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda rows: rows.filter(heart_rate=80).delete(), id="queryset-delete"),
        pytest.param(lambda rows: rows.filter(heart_rate=80).update(heart_rate=99), id="update"),
        pytest.param(
            lambda rows: Vitals.objects.bulk_update(
                [Vitals(pk=pk, heart_rate=99) for pk in rows.values_list("pk", flat=True)],
                ["heart_rate"],
            ),
            id="bulk-update",
        ),
        pytest.param(
            lambda rows: Vitals.objects.bulk_create(
                [Vitals(patient_id=rows.first().patient_id, recorded_date=DAY, weight=150)]
            ),
            id="bulk-create",
        ),
    ],
)
def test_writes_of_the_orm(warm, write):
    before = cached(warm)
    write(Vitals.objects.filter(patient=warm))
    assert cached(warm) != before
    assert cached(warm) == fresh(warm)


def test_deleting_the_patient_drops_its_entry(warm):
    keys = _cache_keys(warm.pk)
    warm.delete()
    assert cache.get_many(keys) == {}


def test_a_write_that_rolls_back_leaves_the_cache_valid(warm):
    before = cached(warm)
    with pytest.raises(RuntimeError), transaction.atomic():
        reading(warm, 5, heart_rate=150)
        # Inside the transaction the statistics are computed, neither read nor cached.
        assert cached(warm)["total_readings"] == 4
        raise RuntimeError
    assert cache.get(_cache_keys(warm.pk)[0])[1] == before
    assert cached(warm) == before == fresh(warm)


def test_an_answer_computed_before_a_write_is_not_served_after_it(warm, monkeypatch):
    """A reader computes from rows read before a write commits and stores its (stale)
    answer after the write dropped the entry: the version it read is gone, so the next
    read computes again."""
    cache.delete(_cache_keys(warm.pk)[0])  # the version stays
    compute = vitals_stats._compute

    def compute_then_a_write_commits(connection, patient_id):
        stale = compute(connection, patient_id)
        reading(warm, 9, heart_rate=120)
        return stale

    monkeypatch.setattr(vitals_stats, "_compute", compute_then_a_write_commits)
    assert cached(warm)["total_readings"] == 3
    monkeypatch.undo()
    assert cached(warm)["total_readings"] == 4


def test_a_miss_costs_two_queries(patient, django_assert_num_queries):
    reading(patient)
    with django_assert_num_queries(2):
        assert cached(patient)["total_readings"] == 1


def test_an_unreachable_cache_neither_fails_statistics_nor_writes(
    settings, client_for, alice, patient, django_capture_on_commit_callbacks
):
    dead = "redis://127.0.0.1:1/0"  # nothing listens there: connections are refused at once
    settings.CACHES = {
        "default": {"BACKEND": "medikeep.cache.CountingRedisCache", "LOCATION": dead}
    }
    api = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/vitals/",
            {"patient_id": patient.pk, "recorded_date": "2026-01-02T08:00:00Z", "heart_rate": 61},
            format="json",
        )
    assert created.status_code == 201, created.content
    stats = api.get(f"/api/v1/vitals/patient/{patient.pk}/stats")
    assert stats.status_code == 200
    assert stats.json()["avg_heart_rate"] == 61
