"""Bodies too large or numbers too long are refused with neutral messages (no settings names,
no interpreter internals), and answers carrying health data are never stored by caches."""

import json

import pytest

pytestmark = pytest.mark.django_db

HUGE = "9" * 5000
INTERNALS = ("DATA_UPLOAD", "settings.", "4300", "int_max_str_digits", "sys.", "Traceback")


def _assert_neutral(response):
    text = response.content.decode()
    for word in INTERNALS:
        assert word not in text, word


def test_an_oversized_body_is_a_413(alice_api, patient, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"medication_name": "A" * 2000, "patient_id": patient.pk}
    response = alice_api.post("/api/v1/medications/", body, format="json")
    assert response.status_code == 413
    assert response.json()["error_code"] == "SIZE-413"
    assert response.json()["message"] == "The request body is too large."
    _assert_neutral(response)


def test_an_oversized_form_is_a_413(anon, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = anon.post("/api/v1/auth/login", {"username": "u" * 500, "password": "p"})
    assert response.status_code == 413
    _assert_neutral(response)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/medications/", "patient_id"),
        ("/api/v1/vitals/", "heart_rate"),
        ("/api/v1/medications/", "medication_name"),
    ],
)
def test_a_5000_digit_integer_is_a_422(alice_api, patient, path, field):
    body = {"medication_name": "Aspirin", "recorded_date": "2026-01-01T08:00:00Z"}
    body["patient_id"] = patient.pk
    raw = json.dumps(body)[:-1] + f', "{field}": {HUGE}}}'
    response = alice_api.post(path, raw, content_type="application/json")
    assert response.status_code == 422, response.content
    _assert_neutral(response)


def test_a_5000_digit_query_parameter_is_refused_neutrally(alice_api, patient):
    response = alice_api.get(f"/api/v1/medications/?patient_id={HUGE}&skip={HUGE}")
    assert 400 <= response.status_code < 500
    _assert_neutral(response)


def test_authenticated_answers_are_not_stored(alice_api, patient):
    for response in (
        alice_api.get("/api/v1/users/me"),
        alice_api.get(f"/api/v1/medications/?patient_id={patient.pk}"),
        alice_api.get("/api/v1/medications/999999"),  # errors too: they say what exists
    ):
        assert response["Cache-Control"] == "no-store"


def test_sign_in_answers_are_not_stored(anon, alice):
    from medikeep.accounts.tests.factories import DEFAULT_PASSWORD

    response = anon.post("/api/v1/auth/login", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_public_answers_may_be_cached(anon):
    response = anon.get("/api/v1/system/version")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
