import pytest

from records.models import Gauge
from records.tests.factories import GaugeFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/gauges"


def test_gauge_shape_and_defaults(alice_api, patient):
    response = alice_api.post(URL, {"gauge_type": "sleep_quality", "value": 4}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["scale_min"], body["scale_max"], body["value"]) == (1, 10, 4.0)
    assert body["recorded_at"] and body["patient_id"] == patient.pk


def test_custom_gauge_type_is_normalised(alice_api, patient):
    response = alice_api.post(URL, {"gauge_type": "Focus Level", "value": 5}, format="json")
    assert response.status_code == 201
    assert response.json()["gauge_type"] == "focus_level"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"value": 0}, "value"),
        ({"value": 10.5}, "value"),
        ({"value": 50, "scale_max": 100}, None),
        ({"scale_min": 5, "scale_max": 5}, "scale_max"),
        ({"gauge_type": "!"}, "gauge_type"),
        ({"value": "high"}, "value"),
        ({"recorded_at": "yesterday"}, "recorded_at"),
    ],
)
def test_field_errors_are_422(alice_api, patient, fields, field):
    response = alice_api.post(URL, {"gauge_type": "pain", "value": 5, **fields}, format="json")
    if field is None:
        assert response.status_code == 201
        return
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]


def test_patient_gauges_filters(alice_api, patient):
    GaugeFactory(patient=patient, gauge_type="mood", recorded_at="2026-10-01T10:00:00Z")
    GaugeFactory(patient=patient, gauge_type="mood", recorded_at="2026-10-20T10:00:00Z")
    GaugeFactory(patient=patient, gauge_type="pain", recorded_at="2026-10-20T11:00:00Z")
    path = f"/api/v1/patients/{patient.pk}/gauges"
    assert len(alice_api.get(path).json()) == 3
    moods = alice_api.get(path, {"gauge_type": "mood", "start_date": "2026-10-10"}).json()
    assert [g["recorded_at"][:10] for g in moods] == ["2026-10-20"]
    until = alice_api.get(path, {"end_date": "2026-10-01"}).json()
    assert len(until) == 1
    assert alice_api.get(path, {"start_date": "soon"}).status_code == 422


def test_newest_first(alice_api, patient):
    older = GaugeFactory(patient=patient, recorded_at="2026-01-01T00:00:00Z")
    newer = GaugeFactory(patient=patient, recorded_at="2026-02-01T00:00:00Z")
    assert [g["id"] for g in alice_api.get(URL).json()] == [newer.pk, older.pk]


def test_delete_answers_with_a_message(alice_api, patient):
    record = GaugeFactory(patient=patient)
    response = alice_api.delete(f"{URL}/{record.pk}")
    assert response.status_code == 200
    assert response.json()["message"] == "Gauge deleted successfully"
    assert not Gauge.objects.exists()
