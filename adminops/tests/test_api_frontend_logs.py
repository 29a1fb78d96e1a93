"""/api/v1/frontend-logs/*: browser events into the server log, attributed and scrubbed."""

import json
import logging

import pytest

BASE = "/api/v1/frontend-logs"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjo3fQ.Zm9yZ2VkLXNpZ25hdHVyZS1ieXRlcw"


def frontend_records(caplog) -> list[tuple[int, dict]]:
    """(level, record) for every line the frontend logger wrote."""
    found = []
    for record in caplog.records:
        if record.name == "adminops.frontend":
            _, _, payload = record.getMessage().split(" ", 2)
            found.append((record.levelno, json.loads(payload)))
    return found


def log_body(**overrides):
    body = {
        "level": "error",
        "message": "JavaScript error occurred",
        "category": "error",
        "timestamp": "2025-10-19T14:30:00Z",
        "url": "/dashboard",
        "component": "PatientList",
        "details": {"patient_id": 123, "attempt": 3},
    }
    return {**body, **overrides}


def assert_422(response, field):
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "error"
    assert body["error_code"] == "VAL-422"
    assert field in body["errors"]


@pytest.mark.parametrize(
    ("level", "expected"),
    [("error", logging.ERROR), ("warn", logging.WARNING), ("info", logging.INFO),
     ("debug", logging.DEBUG)],
)  # fmt: skip
def test_log_writes_at_the_matching_level(anon, caplog, level, expected):
    response = anon.post(f"{BASE}/log", log_body(level=level), format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "logged"
    assert response.json()["timestamp"].endswith("Z")
    [(levelno, record)] = frontend_records(caplog)
    assert levelno == expected
    assert record["event"] == "log"
    assert record["message"] == "JavaScript error occurred"
    assert record["details"] == {"patient_id": 123, "attempt": 3}
    assert record["user_id"] is None


def test_log_names_the_authenticated_user_not_the_claimed_one(alice_api, alice, caplog):
    alice_api.post(f"{BASE}/log", log_body(user_id=alice.pk + 100), format="json")

    [(_, record)] = frontend_records(caplog)
    assert record["user_id"] == alice.pk
    assert record["claimed_user_id"] == alice.pk + 100


def test_log_accepts_reports_from_an_expired_session(anon, caplog):
    anon.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")

    response = anon.post(f"{BASE}/log", log_body(), format="json")

    assert response.status_code == 200
    [(_, record)] = frontend_records(caplog)
    assert record["user_id"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"message": None}, "message"),
        ({"message": "x" * 5001}, "message"),
        ({"stack_trace": "x" * 20001}, "stack_trace"),
        ({"details": ["not", "an", "object"]}, "details"),
        ({"details": {"blob": "x" * 11000}}, "details"),
    ],
)
def test_log_refuses_bad_values(anon, caplog, changes, field):
    response = anon.post(f"{BASE}/log", log_body(**changes), format="json")

    assert_422(response, field)
    assert frontend_records(caplog) == []


# What the web app's two loggers send (web-client-api.md §15): upper-case Python level names,
# free-text categories and extra keys, including the "0", "1" … of a string spread as data.
APP_LOG = {
    "level": "INFO",
    "message": "Fetching patient list",
    "category": "app_data_fetch",
    "timestamp": "2025-10-19T14:30:00.123Z",
    "url": "http://localhost:8000/dashboard",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "session_id": "session_1729348200_abc123",
    "component": "AppDataContext",
    "action": "fetch",
    "user_id": 12,
    "stack_trace": "Error: x\n    at fetchPatients (AppDataContext.jsx:120:11)",
    "details": {"patientCount": 3, "nested": {"ok": True}},
    "0": "l",
    "1": "o",
    "duration_ms": 42,
    "extra": {"anything": [1, 2, 3]},
}


@pytest.mark.parametrize(
    ("level", "expected"),
    [("DEBUG", logging.DEBUG), ("INFO", logging.INFO), ("WARNING", logging.WARNING),
     ("ERROR", logging.ERROR), ("CRITICAL", logging.CRITICAL), ("Warn", logging.WARNING),
     (" info ", logging.INFO), ("verbose", logging.INFO), ("", logging.INFO), (None, logging.INFO),
     (7, logging.INFO)],
)  # fmt: skip
def test_log_takes_any_level_in_any_case(anon, caplog, level, expected):
    response = anon.post(f"{BASE}/log", {**APP_LOG, "level": level}, format="json")

    assert response.status_code == 200, response.content
    [(levelno, _)] = frontend_records(caplog)
    assert levelno == expected


def test_log_without_a_level_is_info(anon, caplog):
    body = {key: value for key, value in APP_LOG.items() if key != "level"}

    assert anon.post(f"{BASE}/log", body, format="json").status_code == 200
    assert frontend_records(caplog)[0][0] == logging.INFO


@pytest.mark.parametrize(
    "category",
    ["app", "api_error", "user_action", "frontend", "app_data_fetch", "auth_connection",
     "app_version_cache_clear", "Something the app never said before"],
)  # fmt: skip
def test_log_takes_any_category(anon, caplog, category):
    response = anon.post(f"{BASE}/log", {**APP_LOG, "category": category}, format="json")

    assert response.status_code == 200, response.content
    [(_, record)] = frontend_records(caplog)
    assert record["category"] == category


def test_category_is_trimmed_and_cut_to_100_characters(anon, caplog):
    response = anon.post(f"{BASE}/log", {**APP_LOG, "category": "  " + "c" * 300}, format="json")

    assert response.status_code == 200
    [(_, record)] = frontend_records(caplog)
    assert record["category"] == "c" * 100


def test_the_apps_body_is_accepted_and_its_extra_keys_ignored(alice_api, alice, caplog):
    response = alice_api.post(f"{BASE}/log", APP_LOG, format="json")

    assert response.status_code == 200, response.content
    [(levelno, record)] = frontend_records(caplog)
    assert levelno == logging.INFO
    assert record["message"] == "Fetching patient list"
    assert (record["user_id"], record["claimed_user_id"]) == (alice.pk, 12)
    assert record["details"] == {"patientCount": 3, "nested": {"ok": True}}
    assert "fetchPatients" in record["stack_trace"]
    for extra in ("0", "1", "duration_ms", "extra"):
        assert extra not in record


@pytest.mark.parametrize(
    "changes", [{"user_id": "alice"}, {"user_id": None}, {"timestamp": "yesterday-ish"}]
)
def test_unreadable_claims_are_dropped_not_refused(anon, caplog, changes):
    response = anon.post(f"{BASE}/log", {**APP_LOG, **changes}, format="json")

    assert response.status_code == 200, response.content
    [(_, record)] = frontend_records(caplog)
    for key in changes:
        assert record.get(key if key != "user_id" else "claimed_user_id") is None


def test_log_refuses_deeply_nested_details(anon):
    nested: dict = {"leaf": 1}
    for _ in range(12):
        nested = {"inner": nested}

    assert_422(anon.post(f"{BASE}/log", log_body(details=nested), format="json"), "details")


def test_secrets_never_reach_the_log(alice_api, caplog):
    body = log_body(
        message=f"request failed with token {JWT}",
        stack_trace="Error: 401\n at Api.call.request (Authorization: Bearer abc.def-secret)",
        url="/reset?token=url-secret-123&page=2",
        details={
            "password": "pw-secret-1",
            "form": {"new_password": "pw-secret-2", "name": "Aspirin"},
            "headers": [{"Authorization": "Basic auth-secret-3"}, {"Cookie": "sid=cookie-secret"}],
            "X-Api-Key": "key-secret-4",
            "note": f"copied {JWT}",
        },
    )

    response = alice_api.post(f"{BASE}/log", body, format="json")

    assert response.status_code == 200
    secrets = ["pw-secret-1", "pw-secret-2", "auth-secret-3", "cookie-secret", "key-secret-4"]
    secrets += ["url-secret-123", "abc.def-secret", JWT.split(".")[1]]
    for secret in secrets:
        assert secret not in caplog.text
    [(_, record)] = frontend_records(caplog)
    assert record["details"]["form"] == {"new_password": "[REDACTED]", "name": "Aspirin"}
    assert record["url"] == "/reset?token=[REDACTED]&page=2"
    # Dotted names in stack traces are not mistaken for tokens.
    assert "Api.call.request" in record["stack_trace"]


def test_client_text_cannot_forge_log_lines(anon, caplog):
    anon.post(f"{BASE}/log", log_body(message="oops\nCRITICAL fake admin login"), format="json")

    [message] = [r.getMessage() for r in caplog.records if r.name == "adminops.frontend"]
    assert "\n" not in message


def test_error_report_is_logged_as_error(alice_api, alice, caplog):
    body = {
        "error_message": "Cannot read property 'id' of undefined",
        "error_type": "TypeError",
        "stack_trace": "TypeError: Cannot read property 'id'",
        "component_name": "MedicationList",
        "props": {"patientId": 123, "authToken": "prop-secret"},
        "url": "/medications",
        "browser_info": {"name": "Chrome", "version": "118.0"},
    }

    response = alice_api.post(f"{BASE}/error", body, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "error_logged"
    [(levelno, record)] = frontend_records(caplog)
    assert levelno == logging.ERROR
    assert record["error_type"] == "TypeError"
    assert record["user_id"] == alice.pk
    assert record["props"] == {"patientId": 123, "authToken": "[REDACTED]"}
    assert "prop-secret" not in caplog.text


@pytest.mark.parametrize("missing", ["error_message", "error_type"])
def test_error_report_needs_message_and_type(anon, missing):
    body = {"error_message": "boom", "error_type": "Error"}
    del body[missing]

    assert_422(anon.post(f"{BASE}/error", body, format="json"), missing)


def test_user_action_requires_authentication(anon, caplog):
    response = anon.post(f"{BASE}/user-action", {"action": "x", "component": "Form"}, format="json")

    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTH-401"
    assert frontend_records(caplog) == []


def test_user_action_is_logged_for_the_signed_in_user(alice_api, alice, caplog):
    body = {
        "action": "medication_created",
        "component": "MedicationForm",
        "details": {"medication_name": "Aspirin", "dosage": "100mg"},
        "user_id": 1,
        "url": "/medications/new",
    }

    response = alice_api.post(f"{BASE}/user-action", body, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "action_logged"
    [(levelno, record)] = frontend_records(caplog)
    assert levelno == logging.INFO
    assert record["event"] == "user_action"
    assert record["action"] == "medication_created"
    assert (record["user_id"], record["claimed_user_id"]) == (alice.pk, 1)


def test_user_action_refuses_a_missing_action(alice_api):
    response = alice_api.post(f"{BASE}/user-action", {"component": "Form"}, format="json")

    assert_422(response, "action")


def test_frontend_logging_health(anon):
    response = anon.get(f"{BASE}/health")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["service"]) == ("healthy", "frontend_logging")
    assert body["timestamp"].endswith("Z")


def test_error_report_in_the_apps_shape(anon, caplog):
    # An unhandled promise rejection after a failed settings save, as the app reports it.
    body = {
        "error_message": "Failed to save settings",
        "error_type": "UnhandledRejection",
        "stack_trace": None,
        "component_name": None,
        "props": {},
        "user_id": None,
        "url": "http://localhost:8000/settings",
        "timestamp": "2025-10-19T14:30:00.000Z",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "browser_info": {"language": "en-US", "platform": "Linux x86_64", "cookieEnabled": True},
        "level": "ERROR",
    }

    response = anon.post(f"{BASE}/error", body, format="json")

    assert response.status_code == 200, response.content
    [(levelno, record)] = frontend_records(caplog)
    assert levelno == logging.ERROR
    assert record["error_message"] == "Failed to save settings"
    assert record["browser_info"]["platform"] == "Linux x86_64"
    assert "level" not in record
