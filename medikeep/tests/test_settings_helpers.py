from pathlib import Path

import pytest
from celery.schedules import crontab

from medikeep.env import ConfigurationError, database_from_url, env_bool, env_list, env_str
from medikeep.schedule import PeriodicTask, beat_schedule, shortest_gap_seconds

ROWS = [
    PeriodicTask("every-minute", "a.task", "* * * * *", "TEST_EVERY_MINUTE_CRON"),
    PeriodicTask("nightly", "b.task", "17 3 * * *", "TEST_NIGHTLY_CRON"),
]


def test_beat_schedule_defaults_and_expiry():
    schedule = beat_schedule(ROWS)
    assert set(schedule) == {"every-minute", "nightly"}
    assert schedule["nightly"]["task"] == "b.task"
    assert schedule["every-minute"]["options"]["expires"] == 54
    assert schedule["nightly"]["options"]["expires"] == int(24 * 3600 * 0.9)


def test_env_moves_or_disables_a_row(monkeypatch):
    monkeypatch.setenv("TEST_NIGHTLY_CRON", "*/15 * * * *")
    monkeypatch.setenv("TEST_EVERY_MINUTE_CRON", "disable")
    schedule = beat_schedule(ROWS)
    assert list(schedule) == ["nightly"]
    assert schedule["nightly"]["options"]["expires"] == int(15 * 60 * 0.9)


def test_bad_cron_is_refused(monkeypatch):
    monkeypatch.setenv("TEST_NIGHTLY_CRON", "every night")
    with pytest.raises(ConfigurationError) as refused:
        beat_schedule(ROWS)
    assert refused.value.problems[0].startswith("TEST_NIGHTLY_CRON='every night': expected")


def test_shortest_gap_wraps_midnight():
    assert shortest_gap_seconds(crontab(minute="0", hour="1,23")) == 2 * 3600


def test_the_project_schedule_runs_the_heartbeat_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]
    assert entry["task"] == "adminops.tasks.record_worker_heartbeat"


def test_database_urls(tmp_path):
    default = database_from_url("", sqlite_default=tmp_path / "db.sqlite3")
    assert default["ENGINE"].endswith("sqlite3") and default["NAME"] == str(tmp_path / "db.sqlite3")
    pg = database_from_url(
        "postgres://me:p%40ss@db.local:5433/records?sslmode=require", sqlite_default=Path("x")
    )
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == (
        "me",
        "p@ss",
        "db.local",
        "5433",
        "records",
    )
    assert pg["OPTIONS"] == {"sslmode": "require"}
    with pytest.raises(ValueError):
        database_from_url("mysql://x/y", sqlite_default=Path("x"))


def test_env_helpers(monkeypatch, tmp_path):
    monkeypatch.setenv("T_BOOL", "yes")
    assert env_bool("T_BOOL") is True
    monkeypatch.setenv("T_BOOL", "perhaps")
    with pytest.raises(ConfigurationError):
        env_bool("T_BOOL")
    monkeypatch.setenv("T_LIST", "a, b,,c")
    assert env_list("T_LIST") == ["a", "b", "c"]
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("T_SECRET_FILE", str(secret))
    assert env_str("T_SECRET") == "from-a-file"
    monkeypatch.setenv("T_SECRET", "direct")
    assert env_str("T_SECRET") == "direct"


def test_deploy_checks_flag_insecure_cookie(settings):
    from medikeep.checks import medikeep_deploy_checks

    settings.AUTH_COOKIE_SECURE = False
    assert "medikeep.W001" in {w.id for w in medikeep_deploy_checks(None)}
    settings.AUTH_COOKIE_SECURE = True
    assert "medikeep.W001" not in {w.id for w in medikeep_deploy_checks(None)}


def test_rate_limits_come_from_the_environment():
    import os
    import subprocess
    import sys

    env = {**os.environ, "API_RATE_AUTH": "7/min", "API_RATE_SEARCH": "3/hour"}
    code = (
        "from django.conf import settings; "
        "print(settings.API_RATES['auth'], settings.API_RATES['search'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "medikeep.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["7/min", "3/hour"]
