"""GET /api/v1/system/health, /system/version and the root /health probe."""

import logging
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from adminops import selectors
from adminops.tasks import WORKER_HEARTBEAT_KEY, record_worker_heartbeat

HEALTH = "/api/v1/system/health"
SECRET_DSN = "postgres://medikeep:hunter2-db-pass@db.internal:5432/medikeep"


@pytest.fixture
def broker_without_eager(monkeypatch):
    # The test suite runs Celery eagerly; these tests look at the real transports.
    monkeypatch.setattr(selectors, "_celery_eager", lambda: False)


def test_health_reports_every_component(anon, db, settings):
    response = anon.get(HEALTH)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["app_name"] == settings.APP_NAME
    assert body["version"] == settings.APP_VERSION
    assert parse_datetime(body["timestamp"]) is not None
    assert body["database"] == {"status": "ok", "vendor": connection.vendor}
    assert body["broker"] == {"status": "ok", "transport": "eager"}
    assert body["logging_system"] == {
        "current_level": settings.LOG_LEVEL,
        "level_valid": True,
        "categories_configured": len(settings.LOG_CATEGORIES),
    }


def test_health_answers_with_trailing_slash_too(anon, db):
    assert anon.get(HEALTH + "/").status_code == 200


def test_worker_unknown_until_a_heartbeat_then_ok(anon, db, settings):
    settings.HEALTH_CHECK_SECONDS = 0  # no sharing of checks between the two probes
    before = anon.get(HEALTH).json()["worker"]
    beat = record_worker_heartbeat()
    after = anon.get(HEALTH).json()["worker"]

    assert before == {"status": "unknown", "last_seen": None}
    assert after["status"] == "ok"
    assert parse_datetime(after["last_seen"]) == parse_datetime(beat)


def test_worker_stale_when_heartbeat_is_old(anon, db, settings):
    old = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS + 5)
    cache.set(WORKER_HEARTBEAT_KEY, old.isoformat())

    assert anon.get(HEALTH).json()["worker"]["status"] == "stale"


def test_database_failure_is_503_without_leaking_the_error(anon, db, monkeypatch, adminops_log):
    def broken():
        raise OperationalError(f"could not connect using {SECRET_DSN}")

    monkeypatch.setattr(selectors, "_run_cheap_query", broken)
    # Django logs every 5xx to the real log files; keep this one in caplog.
    monkeypatch.setattr(logging.getLogger("django.request"), "handlers", [adminops_log.handler])

    response = anon.get(HEALTH)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"]["status"] == "error"
    assert "hunter2" not in response.content.decode()
    assert "OperationalError" in adminops_log.text
    assert "hunter2" not in adminops_log.text


def test_invalid_log_level_is_reported(anon, db, settings):
    settings.LOG_LEVEL = "CHATTY"

    assert anon.get(HEALTH).json()["logging_system"]["level_valid"] is False


def test_filesystem_broker_ok_when_folders_are_writable(
    anon, db, settings, tmp_path, broker_without_eager
):
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
    }

    assert anon.get(HEALTH).json()["broker"] == {"status": "ok", "transport": "filesystem"}


def test_filesystem_broker_error_when_folder_is_missing(
    anon, db, settings, tmp_path, broker_without_eager
):
    settings.REDIS_URL = ""
    missing = str(tmp_path / "gone")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": missing,
        "data_folder_out": missing,
    }

    response = anon.get(HEALTH)

    # The web side still works without a broker, so health stays 200 and says what is down.
    assert response.status_code == 200
    assert response.json()["broker"] == {"status": "error", "transport": "filesystem"}


def test_unreachable_redis_is_an_error_without_the_password(
    anon, db, settings, broker_without_eager
):
    # Port 1 on loopback refuses at once, so this needs no Redis and does not wait.
    settings.REDIS_URL = "redis://:hunter2-redis-pass@127.0.0.1:1/0"

    response = anon.get(HEALTH)

    assert response.json()["broker"] == {"status": "error", "transport": "redis"}
    assert "hunter2" not in response.content.decode()


def test_reachable_redis_is_ok(anon, db, settings, monkeypatch, broker_without_eager):
    pinged = []
    monkeypatch.setattr(selectors, "_ping_redis", pinged.append)
    settings.REDIS_URL = "redis://cache:6379/0"

    assert anon.get(HEALTH).json()["broker"] == {"status": "ok", "transport": "redis"}
    assert pinged == ["redis://cache:6379/0"]


def test_health_ignores_a_stale_token(anon, db):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert anon.get(HEALTH).status_code == 200


def test_version(anon, settings):
    response = anon.get("/api/v1/system/version")

    assert response.status_code == 200
    body = response.json()
    assert body["app_name"] == settings.APP_NAME
    assert body["version"] == settings.APP_VERSION
    assert body["timestamp"].endswith("Z")


def test_root_health_is_cheap(anon, db, settings, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anon.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == settings.APP_VERSION


def test_root_health_ignores_throttling(anon, settings):
    settings.API_RATES = {scope: "1/min" for scope in settings.API_RATES}

    codes = {anon.get("/health").status_code for _ in range(3)}

    assert codes == {200}


def test_unknown_method_is_refused(anon):
    response = anon.post("/api/v1/system/version", {})

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD-405"


def test_checks_are_shared_for_a_few_seconds(anon, db, settings, monkeypatch):
    calls = []
    monkeypatch.setattr(selectors, "_run_cheap_query", lambda: calls.append(1))
    settings.HEALTH_CHECK_SECONDS = 60
    first = anon.get(HEALTH).json()
    second = anon.get(HEALTH).json()
    assert len(calls) == 1
    assert second["status"] == first["status"] == "healthy"
    assert parse_datetime(second["timestamp"]) >= parse_datetime(first["timestamp"])
    settings.HEALTH_CHECK_SECONDS = 0
    anon.get(HEALTH)
    assert len(calls) == 2


def test_redis_down_is_503_not_500(anon, db, settings, broker_without_eager):
    settings.REDIS_URL = "redis://:hunter2-redis-pass@127.0.0.1:1/0"
    response = anon.get(HEALTH)
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["broker"] == {"status": "error", "transport": "redis"}


def test_one_redis_client_serves_every_probe(anon, db, settings, broker_without_eager):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    selectors._redis_client.cache_clear()
    anon.get(HEALTH)
    selectors._health_memo.clear()
    anon.get(HEALTH)
    assert selectors._redis_client.cache_info().misses == 1


@pytest.fixture
def redis_down(settings, broker_without_eager):
    """Redis configured as broker and cache, but nothing listens there."""
    dead = "redis://127.0.0.1:1/0"
    settings.REDIS_URL = dead
    settings.CACHES = {
        "default": {"BACKEND": "medikeep.cache.CountingRedisCache", "LOCATION": dead}
    }
    return dead


def test_with_redis_down_health_is_503_and_the_api_keeps_answering(
    anon, db, alice, client_for, redis_down
):
    from medikeep.accounts.tests.factories import DEFAULT_PASSWORD

    health = anon.get(HEALTH)
    assert health.status_code == 503
    assert health.json()["broker"]["status"] == "error"
    # Rate limits and the login lock-out stop counting instead of failing every request.
    login = anon.post("/api/v1/auth/login", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
    assert client_for(alice).get("/api/v1/users/me").status_code == 200
