"""Vitals: validation, units and time zone, filters, and the /vitals/patient/{id}/… paths.
Statistics are in test_api_vitals_stats.py."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.serializers import Serializer

from patients.tests.factories import PatientFactory
from records.api.vitals import VitalsDetailSerializer, VitalsSerializer
from records.models import MEASURES, Vitals
from records.tests.factories import PractitionerFactory, VitalsFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/vitals"
READING = {"recorded_date": "2025-10-04T10:30:00Z", "systolic_bp": 120, "diastolic_bp": 80}


def patient_url(patient, suffix=""):
    return f"{URL}/patient/{patient.pk}{suffix}"


def bulk(patient, count, *, start=None, **fields):
    """`count` readings an hour apart, the newest first at `start` (default: an hour ago)."""
    start = start or timezone.now() - timedelta(hours=1)
    Vitals.objects.bulk_create(
        Vitals(patient=patient, recorded_date=start - timedelta(hours=i), **fields)
        for i in range(count)
    )


# --- creating and validating ----------------------------------------------------------------


def test_full_reading_round_trip(alice_api, patient):
    body = {
        "patient_id": patient.pk,
        "recorded_date": "2025-10-04T10:30:00Z",
        "systolic_bp": 120,
        "diastolic_bp": 80,
        "heart_rate": 72,
        "temperature": 98.6,
        "weight": 165,
        "height": 70,
        "oxygen_saturation": 98,
        "respiratory_rate": 16,
        "blood_glucose": 95,
        "glucose_context": "fasting",
        "a1c": 5.4,
        "bmi": 24.5,
        "pain_scale": 0,
        "notes": "Routine checkup",
        "location": "Doctor's office",
        "device_used": "Digital thermometer",
        "practitioner_id": PractitionerFactory().pk,
    }
    response = alice_api.post(f"{URL}/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    for name, value in body.items():
        assert data[name] == value, name
    assert data["import_source"] == ""
    assert Vitals.objects.get().bmi == 24.5


def test_bmi_is_computed_from_weight_and_height(alice_api, patient):
    response = alice_api.post(URL, {**READING, "weight": 165, "height": 70}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["bmi"] == 23.7  # 703 · 165 / 70², one decimal
    record = Vitals.objects.get()
    # A new weight recomputes it; an explicit BMI wins.
    alice_api.put(f"{URL}/{record.pk}", {"weight": 200}, format="json")
    record.refresh_from_db()
    assert record.bmi == 28.7
    alice_api.put(f"{URL}/{record.pk}", {"weight": 180, "bmi": 30.1}, format="json")
    record.refresh_from_db()
    assert record.bmi == 30.1


def test_computed_bmi_outside_the_usual_range_stays_editable(alice_api, patient):
    # A premature baby: 2 lb at 14 in gives a BMI of 7.2, below the 10 asked of a given BMI.
    created = alice_api.post(URL, {**READING, "weight": 2, "height": 14}, format="json")
    assert created.status_code == 201 and created.json()["bmi"] == 7.2
    updated = alice_api.put(f"{URL}/{created.json()['id']}", {"notes": "NICU"}, format="json")
    assert updated.status_code == 200, updated.content


def test_naive_recorded_date_is_facility_local_and_answers_in_utc(alice_api, patient, settings):
    settings.TIME_ZONE = "America/New_York"
    response = alice_api.post(URL, {**READING, "recorded_date": "2025-10-04T10:30:00"}, "json")
    assert response.status_code == 201, response.content
    assert response.json()["recorded_date"] == "2025-10-04T14:30:00Z"
    assert Vitals.objects.get().recorded_date == datetime(2025, 10, 4, 14, 30, tzinfo=UTC)
    offset = alice_api.post(URL, {**READING, "recorded_date": "2025-10-04T10:30:00+02:00"}, "json")
    assert offset.json()["recorded_date"] == "2025-10-04T08:30:00Z"


INTEGER_MEASURES = {"systolic_bp", "diastolic_bp", "heart_rate", "respiratory_rate", "pain_scale"}


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [(name, m.low, m.high) for name, m in MEASURES.items() if name != "bmi"],
)
def test_each_measure_has_its_range(alice_api, patient, field, low, high):
    base = {"recorded_date": "2025-10-04T10:30:00Z", "heart_rate": 70}
    step = 1 if field in INTEGER_MEASURES else 0.5
    for value in (low - step, high + step):
        response = alice_api.post(URL, {**base, field: value}, format="json")
        assert response.status_code == 422, (field, value, response.content)
        errors = response.json()["errors"]
        assert list(errors) == [field]
        assert MEASURES[field].label in errors[field][0]
    for value in (low, high):
        response = alice_api.post(URL, {**base, field: value}, format="json")
        assert response.status_code == 201, (field, value, response.content)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"systolic_bp": 120, "diastolic_bp": 120}, "diastolic_bp"),
        ({"systolic_bp": 110, "diastolic_bp": 130}, "diastolic_bp"),
        ({"systolic_bp": "high"}, "systolic_bp"),
        ({"systolic_bp": 10**30}, "systolic_bp"),
        ({"heart_rate": 72.5}, "heart_rate"),
        ({"temperature": "1e400"}, "temperature"),
        ({"temperature": "NaN"}, "temperature"),
        ({"weight": [1]}, "weight"),
        ({"bmi": 5}, "bmi"),
        ({"bmi": 24.5, "weight": 165, "height": 70, "systolic_bp": 250, "diastolic_bp": 30}, None),
        ({"glucose_context": "after_lunch"}, "glucose_context"),
        ({"recorded_date": "yesterday"}, "recorded_date"),
        ({"recorded_date": "2999-01-01T00:00:00Z"}, "recorded_date"),
        ({"recorded_date": "1850-01-01T00:00:00Z"}, "recorded_date"),
        ({"recorded_date": None}, "recorded_date"),
        ({"location": "x" * 101}, "location"),
        ({"notes": "x" * 5001}, "notes"),
    ],
)
def test_bad_input_is_422_naming_the_field(alice_api, patient, fields, field):
    response = alice_api.post(URL, {**READING, **fields}, format="json")
    if field is None:
        assert response.status_code == 201, response.content
        return
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]
    assert not Vitals.objects.exists()


def test_recorded_date_is_required(alice_api, patient):
    response = alice_api.post(URL, {"heart_rate": 70}, format="json")
    assert response.status_code == 422 and "recorded_date" in response.json()["errors"]


def test_at_least_one_measurement(alice_api, patient):
    response = alice_api.post(
        URL, {"recorded_date": "2025-10-04T10:30:00Z", "notes": "forgot"}, format="json"
    )
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"].startswith("Give at least one measurement")
    assert list(body["errors"]) == ["non_field_errors"]
    record = VitalsFactory(patient=patient, systolic_bp=None, diastolic_bp=None, heart_rate=70)
    cleared = alice_api.put(f"{URL}/{record.pk}", {"heart_rate": None}, format="json")
    assert cleared.status_code == 422
    record.refresh_from_db()
    assert record.heart_rate == 70


def test_diastolic_rule_holds_on_partial_update(alice_api, patient):
    record = VitalsFactory(patient=patient, systolic_bp=120, diastolic_bp=80)
    response = alice_api.put(f"{URL}/{record.pk}", {"diastolic_bp": 125}, format="json")
    assert response.status_code == 422 and "diastolic_bp" in response.json()["errors"]


def test_null_texts_and_enum_case_are_accepted(alice_api, patient):
    body = {**READING, "notes": None, "location": None, "glucose_context": "Fasting"}
    response = alice_api.post(URL, {**body, "blood_glucose": 99}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["notes"] == "" and response.json()["glucose_context"] == "fasting"


@pytest.mark.parametrize("serializer_class", [VitalsSerializer, VitalsDetailSerializer])
def test_fast_rendering_matches_drf(patient, serializer_class):
    full = VitalsFactory(
        patient=patient,
        temperature=98.6,
        weight=165,
        height=70,
        blood_glucose=95,
        glucose_context="fasting",
        notes="ok",
    )
    sparse = VitalsFactory(patient=patient, systolic_bp=None, diastolic_bp=None, a1c=6)
    for record in (full, sparse):
        record = Vitals.objects.select_related("patient").get(pk=record.pk)
        serializer = serializer_class(record)
        generic = Serializer.to_representation(serializer, record)
        assert serializer.data == generic
        assert list(serializer.data) == list(generic)


def test_import_source_is_read_only(alice_api, patient):
    response = alice_api.post(URL, {**READING, "import_source": "dexcom_clarity"}, format="json")
    assert response.status_code == 201 and response.json()["import_source"] == ""


def test_detail_names_the_patient_and_delete_answers_with_a_message(alice_api, patient):
    record = VitalsFactory(patient=patient)
    assert alice_api.get(f"{URL}/{record.pk}").json()["patient_name"] == "Alice Owner"
    response = alice_api.delete(f"{URL}/{record.pk}")
    assert response.status_code == 200
    assert response.json() == {"message": "Vitals deleted successfully"}


def test_dashboard_counts_vitals(alice_api, patient):
    VitalsFactory.create_batch(3, patient=patient)
    response = alice_api.get("/api/v1/patients/me/dashboard-stats")
    assert response.status_code == 200
    assert response.json()["total_vitals"] == 3


# --- lists and filters ----------------------------------------------------------------------


def test_newest_first(alice_api, patient):
    older = VitalsFactory(patient=patient, recorded_date="2025-01-01T08:00:00Z")
    newer = VitalsFactory(patient=patient, recorded_date="2025-02-01T08:00:00Z")
    assert [v["id"] for v in alice_api.get(URL).json()] == [newer.pk, older.pk]


def test_vital_type_and_glucose_context_filters(alice_api, patient):
    pressure = VitalsFactory(patient=patient, heart_rate=None)
    pulse = VitalsFactory(patient=patient, systolic_bp=None, diastolic_bp=None)
    fasting = VitalsFactory(
        patient=patient, blood_glucose=90, glucose_context="fasting", heart_rate=None
    )
    after = VitalsFactory(
        patient=patient, blood_glucose=150, glucose_context="after_meal", heart_rate=None
    )
    weighed = VitalsFactory(patient=patient, weight=150, systolic_bp=None, diastolic_bp=None)

    def ids(**params):
        response = alice_api.get(URL, params)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()}

    assert ids(vital_type="heart_rate") == {pulse.pk, weighed.pk}
    assert ids(vital_type="blood_pressure") == {pressure.pk, fasting.pk, after.pk}
    assert ids(vital_type="blood_glucose") == {fasting.pk, after.pk}
    assert ids(vital_type="weight") == {weighed.pk}
    assert ids(glucose_context="after_meal") == {after.pk}
    assert ids(vital_type="a1c") == set()


def test_date_filters(alice_api, patient):
    early = VitalsFactory(patient=patient, recorded_date="2025-03-01T09:00:00Z")
    mid = VitalsFactory(patient=patient, recorded_date="2025-03-10T23:30:00Z")
    late = VitalsFactory(patient=patient, recorded_date="2025-03-20T09:00:00Z")
    recent = VitalsFactory(patient=patient, recorded_date=timezone.now() - timedelta(hours=2))

    def ids(**params):
        response = alice_api.get(URL, params)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()}

    # A date-only end_date covers that whole (facility-local) day.
    assert ids(start_date="2025-03-02", end_date="2025-03-10") == {mid.pk}
    assert ids(start_date="2025-03-10T23:00:00Z", end_date="2025-03-20T09:00:00Z") == {
        mid.pk,
        late.pk,
    }
    assert ids(end_date="2025-03-01") == {early.pk}
    assert ids(days=1) == {recent.pk}
    assert ids(days=3650) == {early.pk, mid.pk, late.pk, recent.pk}


@pytest.mark.parametrize(
    "params",
    [
        {"vital_type": "aura"},
        {"glucose_context": "brunch"},
        {"days": "0"},
        {"days": "abc"},
        {"days": "1.5"},
        {"days": "99999999999999999999"},
        {"start_date": "soon"},
        {"start_date": "2025-02-30"},
        {"start_date": "0001-01-01T00:00:00+14:00"},
        {"end_date": "2025-03-01", "start_date": "2025-03-02"},
    ],
)
def test_bad_filters_are_422(alice_api, patient, params):
    response = alice_api.get(URL, params)
    assert response.status_code == 422, response.content
    assert set(response.json()["errors"]) <= set(params)


def test_list_limits(alice_api, patient):
    bulk(patient, 150, heart_rate=70)
    assert len(alice_api.get(URL).json()) == 100
    assert len(alice_api.get(URL, {"limit": 10_000}).json()) == 100
    assert len(alice_api.get(patient_url(patient)).json()) == 150
    assert len(alice_api.get(patient_url(patient), {"limit": 20, "skip": 140}).json()) == 10
    assert alice_api.get(patient_url(patient), {"limit": "lots"}).status_code == 422


def test_by_patient_path_filters_and_refuses_strangers(alice_api, client_for, mallory, patient):
    VitalsFactory(patient=patient, weight=150)
    VitalsFactory(patient=patient)
    listed = alice_api.get(patient_url(patient), {"vital_type": "weight"}).json()
    assert len(listed) == 1
    assert client_for(mallory).get(patient_url(patient)).status_code == 403


# --- /patient/{id}/paginated ----------------------------------------------------------------


def test_paginated_has_items_and_total(alice_api, patient):
    bulk(patient, 25, heart_rate=70)
    bulk(patient, 5, start=timezone.now() - timedelta(days=30), weight=150)
    page = alice_api.get(patient_url(patient, "/paginated")).json()
    assert set(page) == {"items", "total", "skip", "limit"}
    assert (page["total"], page["skip"], page["limit"], len(page["items"])) == (30, 0, 10, 10)
    last = alice_api.get(patient_url(patient, "/paginated"), {"skip": 25, "limit": 10}).json()
    assert len(last["items"]) == 5 and last["total"] == 30
    capped = alice_api.get(patient_url(patient, "/paginated"), {"limit": 1000}).json()
    assert capped["limit"] == 100 and len(capped["items"]) == 30
    weights = alice_api.get(patient_url(patient, "/paginated/"), {"vital_type": "weight"}).json()
    assert weights["total"] == 5 and all(item["weight"] == 150 for item in weights["items"])


def test_paginated_counts_once_and_does_not_grow(alice_api, patient):
    path = patient_url(patient, "/paginated")
    bulk(patient, 3, heart_rate=70)
    alice_api.get(path)
    with CaptureQueriesContext(connection) as few:
        alice_api.get(path)
    bulk(patient, 40, start=timezone.now() - timedelta(days=10), heart_rate=70)
    with CaptureQueriesContext(connection) as many:
        assert alice_api.get(path).json()["total"] == 43
    assert len(many) == len(few)
    assert sum("COUNT(" in q["sql"].upper() for q in many.captured_queries) == 1


def test_paginated_refusals(alice_api, client_for, mallory, patient):
    assert client_for(mallory).get(patient_url(patient, "/paginated")).status_code == 403
    assert alice_api.get(f"{URL}/patient/999999/paginated").status_code == 404
    bad = alice_api.get(patient_url(patient, "/paginated"), {"skip": -1})
    assert bad.status_code == 422 and "skip" in bad.json()["errors"]
    bad_type = alice_api.get(patient_url(patient, "/paginated"), {"vital_type": "x"})
    assert bad_type.status_code == 422 and "vital_type" in bad_type.json()["errors"]


# --- /patient/{id}/latest -------------------------------------------------------------------


def test_latest(alice_api, client_for, bob, mallory, shared_patient):
    patient = shared_patient
    assert alice_api.get(patient_url(patient, "/latest")).status_code == 404
    VitalsFactory(patient=patient, recorded_date="2025-01-01T08:00:00Z", weight=150)
    newest = VitalsFactory(patient=patient, recorded_date="2025-02-01T08:00:00Z")
    assert alice_api.get(patient_url(patient, "/latest")).json()["id"] == newest.pk
    assert client_for(bob).get(patient_url(patient, "/latest")).json()["id"] == newest.pk
    weight = alice_api.get(patient_url(patient, "/latest"), {"vital_type": "weight"}).json()
    assert weight["weight"] == 150
    assert client_for(mallory).get(patient_url(patient, "/latest")).status_code == 403


def test_latest_is_404_with_the_contract_message(alice_api, patient):
    response = alice_api.get(patient_url(patient, "/latest"))
    assert response.status_code == 404
    assert response.json()["error"] == "No vitals readings found"


# --- /patient/{id}/date-range ---------------------------------------------------------------


def test_date_range(alice_api, patient):
    VitalsFactory(patient=patient, recorded_date="2025-03-01T09:00:00Z")
    inside = VitalsFactory(patient=patient, recorded_date="2025-03-10T09:00:00Z")
    VitalsFactory(patient=patient, recorded_date="2025-03-20T09:00:00Z")
    response = alice_api.get(
        patient_url(patient, "/date-range"),
        {"start_date": "2025-03-05T00:00:00Z", "end_date": "2025-03-15T00:00:00Z"},
    )
    assert response.status_code == 200, response.content
    assert [item["id"] for item in response.json()] == [inside.pk]


def test_date_range_returns_more_than_a_hundred(alice_api, patient):
    bulk(patient, 120, start=datetime(2025, 3, 10, tzinfo=UTC), heart_rate=70)
    response = alice_api.get(
        patient_url(patient, "/date-range"), {"start_date": "2025-03-01", "end_date": "2025-03-10"}
    )
    assert len(response.json()) == 120


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, {"start_date", "end_date"}),
        ({"start_date": "2025-03-01"}, {"end_date"}),
        ({"end_date": "2025-03-01"}, {"start_date"}),
        ({"start_date": "2025-03-02", "end_date": "2025-03-01"}, {"end_date"}),
        ({"start_date": "2025-03-02T10:00:00Z", "end_date": "2025-03-02T09:00:00Z"}, {"end_date"}),
        ({"start_date": "March", "end_date": "2025-03-01"}, {"start_date"}),
    ],
)
def test_date_range_needs_both_dates_in_order(alice_api, patient, params, fields):
    response = alice_api.get(patient_url(patient, "/date-range"), params)
    assert response.status_code == 422, response.content
    assert set(response.json()["errors"]) == fields


def test_date_range_refuses_strangers_before_looking_at_dates(client_for, mallory, patient):
    assert client_for(mallory).get(patient_url(patient, "/date-range")).status_code == 403


# --- POST /patient/{id}/vitals/ ------------------------------------------------------------


def test_create_for_the_patient_of_the_path(alice_api, alice):
    second = PatientFactory(owner=alice)
    path = patient_url(second, "/vitals/")
    response = alice_api.post(path, READING, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["patient_id"] == second.pk
    same = alice_api.post(path, {**READING, "patient_id": second.pk}, format="json")
    assert same.status_code == 201
    same_as_text = alice_api.post(path, {**READING, "patient_id": str(second.pk)}, format="json")
    assert same_as_text.status_code == 201
    assert Vitals.objects.filter(patient=second).count() == 3


def test_create_for_patient_refuses_a_different_body_patient(alice_api, alice, patient):
    second = PatientFactory(owner=alice)
    response = alice_api.post(
        patient_url(second, "/vitals"), {**READING, "patient_id": patient.pk}, format="json"
    )
    assert response.status_code == 400
    assert "does not match" in response.json()["error"]
    for junk in ("me", 1.5, True, [second.pk]):
        bad = alice_api.post(
            patient_url(second, "/vitals"), {**READING, "patient_id": junk}, format="json"
        )
        assert bad.status_code == 422 and "patient_id" in bad.json()["errors"], junk
    assert not Vitals.objects.exists()


def test_create_for_patient_access(client_for, bob, carol, mallory, shared_patient):
    path = patient_url(shared_patient, "/vitals/")
    assert client_for(bob).post(path, READING, format="json").status_code == 403
    assert client_for(mallory).post(path, READING, format="json").status_code == 403
    # A stranger learns nothing from the body check either.
    foreign = {**READING, "patient_id": shared_patient.pk + 1}
    assert client_for(mallory).post(path, foreign, format="json").status_code == 403
    assert not Vitals.objects.exists()
    assert client_for(carol).post(path, READING, format="json").status_code == 201
    assert (
        client_for(carol).post(f"{URL}/patient/999999/vitals", READING, "json").status_code == 404
    )


def test_create_for_patient_validates(alice_api, patient):
    response = alice_api.post(
        patient_url(patient, "/vitals"), {**READING, "pain_scale": 11}, format="json"
    )
    assert response.status_code == 422 and "pain_scale" in response.json()["errors"]
    listed = alice_api.post(patient_url(patient, "/vitals"), [READING], format="json")
    assert listed.status_code == 422
