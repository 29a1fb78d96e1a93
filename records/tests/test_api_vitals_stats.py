"""Vitals statistics: /vitals/stats and /vitals/patient/{patient_id}/stats."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import PatientShare
from patients.tests.factories import PatientFactory
from records.models import MEASURES, Vitals
from records.tests.factories import VitalsFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/vitals/stats"
DAY = datetime(2025, 3, 1, 8, tzinfo=UTC)


def stats_url(patient):
    return f"/api/v1/vitals/patient/{patient.pk}/stats"


def reading(patient, days, **fields):
    """A reading with only the given measurements, `days` after DAY."""
    empty = {"systolic_bp": None, "diastolic_bp": None, "heart_rate": None}
    return VitalsFactory(
        patient=patient, recorded_date=DAY + timedelta(days=days), **{**empty, **fields}
    )


def test_stats_of_a_patient(alice_api, patient):
    reading(patient, 0, systolic_bp=130, diastolic_bp=85, heart_rate=80, weight=200, height=70)
    reading(patient, 1, systolic_bp=120, diastolic_bp=80, heart_rate=70, temperature=98.6)
    reading(patient, 2, systolic_bp=111, diastolic_bp=71, weight=190, a1c=5.9)
    reading(patient, 3, blood_glucose=105, glucose_context="fasting", weight=185.5)
    VitalsFactory(patient=PatientFactory(), weight=90)  # somebody else's

    response = alice_api.get(stats_url(patient))
    assert response.status_code == 200, response.content
    stats = response.json()
    assert stats["total_readings"] == 4
    assert stats["latest_reading_date"] == "2025-03-04T08:00:00Z"
    assert stats["first_reading_date"] == "2025-03-01T08:00:00Z"
    assert stats["avg_systolic_bp"] == 120.3
    assert stats["avg_diastolic_bp"] == 78.7
    assert stats["avg_heart_rate"] == 75.0
    assert stats["avg_temperature"] == 98.6
    assert stats["current_temperature"] == 98.6
    assert stats["current_weight"] == 185.5
    assert stats["weight_change"] == -14.5
    # The stored BMI (28.7, of the first reading) is older than the newest weight: computed.
    assert stats["current_bmi"] == round(703 * 185.5 / 70**2, 1)
    assert stats["current_blood_glucose"] == 105
    assert stats["current_a1c"] == 5.9
    assert stats["blood_pressure_avg"] == {"systolic": 120.3, "diastolic": 78.7}
    assert stats["heart_rate_avg"] == 75.0
    assert stats["weight_trend"] == "decreasing"

    weight = stats["measures"]["weight"]
    assert weight == {
        "count": 3,
        "average": 191.8,
        "min": 185.5,
        "max": 200.0,
        "latest": 185.5,
        "first_date": "2025-03-01T08:00:00Z",
        "latest_date": "2025-03-04T08:00:00Z",
        "trend": "decreasing",
    }
    assert set(stats["measures"]) == set(MEASURES)
    assert stats["measures"]["heart_rate"]["trend"] == "stable"  # only two readings
    assert stats["measures"]["respiratory_rate"] == {
        "count": 0,
        "average": None,
        "min": None,
        "max": None,
        "latest": None,
        "first_date": None,
        "latest_date": None,
        "trend": None,
    }


def test_current_bmi_is_the_stored_one_unless_a_later_weight_exists(alice_api, patient):
    reading(patient, 0, weight=150)
    reading(patient, 1, weight=155, height=65, bmi=25.1)
    assert alice_api.get(stats_url(patient)).json()["current_bmi"] == 25.1
    reading(patient, 2, weight=160)
    assert alice_api.get(stats_url(patient)).json()["current_bmi"] == 26.6  # 703 · 160 / 65²
    reading(patient, 3, bmi=30.0)
    assert alice_api.get(stats_url(patient)).json()["current_bmi"] == 30.0


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ([100, 101, 150, 160, 170, 180], "increasing"),
        ([180, 170, 160, 150, 101, 100], "decreasing"),
        ([100, 100, 50, 150, 101, 100], "stable"),
        ([100, 200], "stable"),
    ],
)
def test_trend_compares_the_newest_third_with_the_oldest(alice_api, patient, values, trend):
    for day, value in enumerate(values):
        reading(patient, day, blood_glucose=value)
    stats = alice_api.get(stats_url(patient)).json()
    assert stats["measures"]["blood_glucose"]["trend"] == trend


def test_empty_stats(alice_api, patient):
    stats = alice_api.get(URL).json()
    assert stats["total_readings"] == 0
    assert stats["latest_reading_date"] is None
    assert stats["avg_systolic_bp"] is None and stats["current_weight"] is None
    assert stats["weight_change"] is None and stats["weight_trend"] is None
    assert stats["blood_pressure_avg"] == {"systolic": None, "diastolic": None}


def test_stats_of_the_active_or_given_patient(alice_api, alice, patient):
    reading(patient, 0, heart_rate=60)
    other = PatientFactory(owner=alice)
    reading(other, 0, heart_rate=90)
    reading(other, 1, heart_rate=100)
    assert alice_api.get(URL).json()["total_readings"] == 1
    given = alice_api.get(URL, {"patient_id": other.pk}).json()
    assert (given["total_readings"], given["avg_heart_rate"]) == (2, 95.0)
    assert alice_api.get(f"{URL}/").json()["total_readings"] == 1


def test_stats_honour_the_list_filters(alice_api, patient):
    reading(patient, 0, heart_rate=60)
    VitalsFactory(patient=patient, recorded_date=timezone.now() - timedelta(hours=3), heart_rate=90)
    recent = alice_api.get(stats_url(patient), {"days": 7}).json()
    assert (recent["total_readings"], recent["avg_heart_rate"]) == (1, 90.0)
    march = alice_api.get(
        stats_url(patient), {"start_date": "2025-03-01", "end_date": "2025-03-31"}
    )
    assert march.json()["avg_heart_rate"] == 60.0
    assert alice_api.get(stats_url(patient), {"days": "week"}).status_code == 422


def test_stats_access(client_for, bob, mallory, shared_patient):
    reading(shared_patient, 0, heart_rate=60)
    assert client_for(bob).get(stats_url(shared_patient)).json()["total_readings"] == 1
    viewer = client_for(bob).get(URL, {"patient_id": shared_patient.pk})
    assert viewer.json()["total_readings"] == 1
    assert client_for(mallory).get(stats_url(shared_patient)).status_code == 403
    assert client_for(mallory).get(URL, {"patient_id": shared_patient.pk}).status_code == 403
    assert client_for(mallory).get("/api/v1/vitals/patient/999999/stats").status_code == 404
    # The statistics skip the general access filter only after this patient check.
    PatientShare.objects.filter(grantee=bob).update(expires_at=timezone.now())
    assert client_for(bob).get(stats_url(shared_patient)).status_code == 403
    bob.active_patient = shared_patient
    bob.save()
    assert client_for(bob).get(URL).status_code == 404  # no patient of his own to fall back to


def test_stats_query_count_does_not_grow_with_readings(alice_api, patient):
    def add(count, offset):
        Vitals.objects.bulk_create(
            Vitals(
                patient=patient,
                recorded_date=DAY + timedelta(hours=offset + i),
                systolic_bp=110 + i % 20,
                diastolic_bp=70 + i % 10,
                heart_rate=60 + i % 30,
                weight=150 + i % 7,
                height=68,
                blood_glucose=90 + i % 40,
                a1c=5.5,
            )
            for i in range(count)
        )

    add(3, 0)
    alice_api.get(stats_url(patient))  # warm the per-process caches
    with CaptureQueriesContext(connection) as few:
        assert alice_api.get(stats_url(patient)).json()["total_readings"] == 3
    add(300, 10)
    with CaptureQueriesContext(connection) as many:
        assert alice_api.get(stats_url(patient)).json()["total_readings"] == 303
    assert len(many) == len(few)
    # The readings themselves are never fetched: every query on the table aggregates or
    # picks single values.
    table = Vitals._meta.db_table
    for query in many.captured_queries:
        sql = query["sql"]
        if f'FROM "{table}"' in sql.split("WHERE")[0] and "LIMIT 1" not in sql:
            assert "AVG(" in sql.upper() or "COUNT(" in sql.upper(), sql


def test_the_compiled_statements_agree_with_the_queryset(patient):
    """patient_stats runs statements compiled once (on SQLite a pass per measure); stats()
    builds them for its queryset (one pass): the same answer."""
    for day in range(9):
        reading(
            patient,
            day,
            systolic_bp=110 + day,
            diastolic_bp=70 + day % 3,
            heart_rate=60 + 5 * (day % 4) if day % 2 else None,
            weight=180 - 2.5 * day if day % 3 else None,
            height=70 if day == 4 else None,
            blood_glucose=100 + 10 * day if day > 5 else None,
            pain_scale=day % 10,
        )
    compiled = Vitals.objects.patient_stats(patient.pk)
    assert compiled == Vitals.objects.for_patient(patient.pk).stats(patient.pk)
    assert compiled["total_readings"] == 9
    assert compiled["measures"]["blood_glucose"]["trend"] == "increasing"
    assert compiled["measures"]["weight"]["trend"] == "decreasing"
