"""Redis configured but not answering (a real refused connection on a closed port): health
says 503 and why; rate limits and the sign-in back-off keep working per process (degraded
mode, medikeep/api/throttles.py); nothing answers 500."""

from __future__ import annotations

import logging
import socket

import pytest

from adminops import selectors
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from medikeep.api import throttles

HEALTH = "/api/v1/system/health"
LOGIN = "/api/v1/auth/login"


def _closed_port() -> int:
    """A port nothing listens on: bound, read and released, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_refuses(settings):
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "medikeep.cache.CountingRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    settings.HEALTH_CHECK_SECONDS = 0
    selectors._health_memo.clear()
    throttles._local.clear()
    throttles._state.update(down_until=0.0, last_warning=0.0)
    yield url
    throttles._local.clear()
    throttles._state.update(down_until=0.0, last_warning=0.0)
    selectors._health_memo.clear()


@pytest.fixture
def healthy_cache(settings):
    settings.HEALTH_CHECK_SECONDS = 0
    selectors._health_memo.clear()
    yield
    selectors._health_memo.clear()


def test_health_is_503_and_names_the_cache(anon, db, redis_refuses):
    response = anon.get(HEALTH)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["cache"] == {"status": "error", "backend": "redis"}
    assert body["database"]["status"] == "ok"
    assert len(body["reasons"]) == 1
    assert body["reasons"][0].startswith("cache (redis) unreachable")


def test_health_is_200_with_no_reasons_when_all_answer(anon, db, healthy_cache):
    body = anon.get(HEALTH).json()
    assert body["status"] == "healthy"
    assert body["reasons"] == []
    assert body["cache"]["status"] == "ok"


def test_the_rate_limit_still_holds_per_process(anon, db, settings, redis_refuses, caplog):
    settings.API_RATES = {**settings.API_RATES, "auth": "3/min"}
    with caplog.at_level(logging.WARNING, logger="medikeep.security"):
        codes = [
            anon.post(LOGIN, {"username": "nobody", "password": "wrong-password"}).status_code
            for _ in range(4)
        ]
    assert codes == [401, 401, 401, 429]
    warnings = [r.getMessage() for r in caplog.records if "degraded mode" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per request


def test_sign_in_works_and_the_back_off_holds_per_process(anon, db, alice, settings, redis_refuses):
    settings.LOGIN_LOCK_AFTER = 2
    ok = anon.post(LOGIN, {"username": "alice", "password": DEFAULT_PASSWORD})
    assert ok.status_code == 200

    wrong = [
        anon.post(LOGIN, {"username": "alice", "password": "not-her-password"}).status_code
        for _ in range(3)
    ]
    assert wrong[:2] == [401, 401]
    assert wrong[2] in (401, 429)  # the failure that starts the back-off
    locked = anon.post(LOGIN, {"username": "alice", "password": DEFAULT_PASSWORD})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) >= 1


def test_a_signed_in_user_is_served(client_for, alice, db, redis_refuses):
    response = client_for(alice).get("/api/v1/users/me")
    assert response.status_code == 200
    assert response["X-RateLimit-Limit"]


def test_the_shared_cache_is_used_again_once_it_answers(db, settings, redis_refuses):
    assert throttles.count_in_window("t:key", 60) == 1  # refused: counted locally
    assert throttles._state["down_until"] > 0
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    throttles._state["down_until"] = 0.0  # the retry pause is over
    from django.core.cache import cache

    assert throttles.count_in_window("t:key", 60) == 1  # a fresh count, in the shared cache
    assert cache.get("t:key") == 1


def test_record_writes_that_use_the_cache_still_succeed(alice_api, patient, redis_refuses):
    """The lab catalogue's index and the vitals statistics keep their stamps in the cache."""
    from records.tests.factories import LabResultFactory

    panel = LabResultFactory(patient=patient, test_name="Basic Metabolic Panel")
    created = alice_api.post(
        "/api/v1/lab-test-components",
        {
            "lab_result_id": panel.pk,
            "test_name": "Glucose",
            "value": 92,
            "unit": "mg/dL",
            "ref_range_min": 70,
            "ref_range_max": 99,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    vitals = alice_api.get(f"/api/v1/vitals/patient/{patient.pk}/stats")
    assert vitals.status_code == 200, vitals.content
