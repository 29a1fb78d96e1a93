"""Start-up validation: a bad value in the environment stops every entry point with one line
per problem (the variable, its value with secrets masked, what is expected) and no traceback.

Each case starts a real Python process, as an operator's server would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medikeep import env

REPO = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup()"


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # The operator's own variables must not leak into the case (CI sets DATABASE_URL, …).
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR"}
    base = {k: v for k, v in os.environ.items() if k in keep}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "medikeep.settings",
        "MEDIKEEP_VAR_DIR": str(tmp_path / "var"),
        **extra,
    }


def _run(args: list[str], tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=_clean_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _problem_lines(stderr: str) -> list[str]:
    return [line.strip() for line in stderr.splitlines() if line.startswith("  ")]


BAD_VALUES = [
    ("API_RATE_AUTH", "10/fortnight", "API_RATE_AUTH='10/fortnight': expected a rate"),
    ("API_RATE_STANDARD", "many/min", "API_RATE_STANDARD='many/min': expected a rate"),
    (
        "TRUSTED_PROXIES",
        "10.0.0.1,proxy.local",
        "TRUSTED_PROXIES='10.0.0.1,proxy.local': expected IP addresses or networks",
    ),
    ("TRUSTED_PROXIES", "10.0.0.0/33", "'10.0.0.0/33' is neither"),
    ("DATABASE_URL", "mysql://me:hunter2@db/medikeep", "DATABASE_URL='mysql://me:***@db/medikeep'"),
    ("DATABASE_URL", "postgres://me@db:port/medikeep", "expected a port that is a number"),
    ("DATABASE_URL", "medikeep.sqlite3", "expected a URL starting sqlite:// or postgres://"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL='localhost:6379': expected redis://"),
    ("REDIS_URL", "redis://cache:six/0", "REDIS_URL='redis://cache:six/0': expected redis://"),
    (
        "DJANGO_SECRET_KEY_FILE",
        "/run/secrets/missing-key",
        "DJANGO_SECRET_KEY_FILE='/run/secrets/missing-key': expected a readable file holding "
        "DJANGO_SECRET_KEY",
    ),
    ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG='maybe': expected true or false"),
    ("AUTH_COOKIE_SECURE", "sometimes", "AUTH_COOKIE_SECURE='sometimes': expected true or false"),
    ("LOGIN_LOCK_AFTER", "five", "LOGIN_LOCK_AFTER='five': expected a whole number"),
    (
        "SECURE_HSTS_SECONDS",
        "-5",
        "SECURE_HSTS_SECONDS='-5': expected a whole number of at least 0",
    ),
    ("FILES_STORAGE", "ftp", "FILES_STORAGE='ftp': expected one of local, s3"),
    ("LOG_LEVEL", "loud", "LOG_LEVEL='loud': expected one of debug, info"),
    ("SSO_PROVIDER_TYPE", "okta", "SSO_PROVIDER_TYPE='okta': expected one of google, github"),
    ("TZ", "Mars/Olympus_Mons", "TZ='Mars/Olympus_Mons': expected an IANA time zone name"),
    ("REMINDER_PLAN_CRON", "every minute", "REMINDER_PLAN_CRON='every minute': expected a crontab"),
    ("APP_PUBLIC_URL", "health.example.org", "APP_PUBLIC_URL='health.example.org': expected an"),
    ("CORS_ALLOWED_ORIGINS", "https://app.example.org/", None),  # a bare trailing slash is fine
    (
        "CORS_ALLOWED_ORIGINS",
        "app.example.org",
        "CORS_ALLOWED_ORIGINS='app.example.org': expected origins",
    ),
    ("DJANGO_CSRF_TRUSTED_ORIGINS", "example.org", "expected origins such as https://"),
    (
        "FIELD_ENCRYPTION_KEY",
        "not-a-fernet-key",
        "FIELD_ENCRYPTION_KEY='***': expected Fernet keys",
    ),
]


@pytest.mark.parametrize(("name", "value", "expected"), BAD_VALUES)
def test_a_bad_value_stops_start_up_with_one_line(tmp_path, name, value, expected):
    result = _run(["-c", SETUP], tmp_path, **{name: value})
    if expected is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = _problem_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_secrets_never_appear_in_the_message(tmp_path):
    result = _run(
        ["-c", SETUP],
        tmp_path,
        FIELD_ENCRYPTION_KEY="my-very-secret-key",
        DATABASE_URL="mysql://medikeep:hunter2@db/medikeep",
        REDIS_URL="redis://:s3cret@cache:bad",
    )
    assert result.returncode != 0
    for secret in ("my-very-secret-key", "hunter2", "s3cret"):
        assert secret not in result.stderr
    assert "REDIS_URL='redis://:***@cache:bad'" in result.stderr


def test_every_problem_is_reported_at_once(tmp_path):
    result = _run(
        ["-c", SETUP],
        tmp_path,
        API_RATE_AUTH="10/fortnight",
        TRUSTED_PROXIES="gateway",
        DATABASE_URL="oracle://db/x",
        DJANGO_DEBUG="perhaps",
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    names = {line.split("=", 1)[0] for line in _problem_lines(result.stderr)}
    assert names == {"API_RATE_AUTH", "TRUSTED_PROXIES", "DATABASE_URL", "DJANGO_DEBUG"}
    assert "4 settings in the environment must be fixed" in result.stderr


@pytest.mark.parametrize(
    "entry",
    [
        ["manage.py", "check"],
        ["-c", "import medikeep.wsgi"],
        ["-c", "import medikeep.asgi"],
        ["manage.py", "serve", "--no-worker"],
    ],
    ids=["manage.py", "wsgi", "asgi", "serve"],
)
def test_every_entry_point_stops_without_a_traceback(tmp_path, entry):
    result = _run(entry, tmp_path, API_RATE_UPLOAD="50/fortnight")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert _problem_lines(result.stderr) == [
        "API_RATE_UPLOAD='50/fortnight': expected a rate such as 10/min: a whole number, '/', "
        "then s, min, hour or day"
    ]


def test_the_serve_command_checks_its_own_variables(tmp_path):
    result = _run(["manage.py", "serve", "--no-worker"], tmp_path, WEB_WORKERS="lots")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert _problem_lines(result.stderr) == ["WEB_WORKERS='lots': expected a whole number"]


def test_good_values_start(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("a-secret-from-a-file-" + "x" * 40 + "\n")
    result = _run(
        [
            "-c",
            SETUP + "; from django.conf import settings; "
            "print(settings.API_RATES['auth'], settings.TRUSTED_PROXIES, "
            "settings.SECRET_KEY[:21], settings.DATABASES['default']['PORT'])",
        ],
        tmp_path,
        API_RATE_AUTH="20/hours",
        TRUSTED_PROXIES="10.0.0.0/8, 192.168.1.1 ,fd00::/8",
        DJANGO_SECRET_KEY_FILE=str(secret),
        DATABASE_URL="postgres://me:pw@db.local:5433/records",
        REDIS_URL="redis://cache:6379/1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "20/hours",
        "['10.0.0.0/8',",
        "'192.168.1.1',",
        "'fd00::/8']",
        "a-secret-from-a-file-",
        "5433",
    ]


# --- the helpers themselves (in this process: outside settings they stop at once) ----------


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("100/min", (100, 60)), ("5/s", (5, 1)), ("50/hour", (50, 3600)), ("2/days", (2, 86400))],
)
def test_rates(rate, parsed):
    assert env.parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["10/fortnight", "0/min", "-1/min", "ten/min", "10", "10/"])
def test_bad_rates(rate):
    with pytest.raises(ValueError):
        env.parse_rate(rate)


def test_a_bad_value_outside_settings_stops_at_once(monkeypatch):
    monkeypatch.setenv("T_CONFIG_INT", "12 monkeys")
    with pytest.raises(env.ConfigurationError) as stopped:
        env.env_int("T_CONFIG_INT", 3)
    assert stopped.value.problems == ["T_CONFIG_INT='12 monkeys': expected a whole number"]
    assert isinstance(stopped.value, SystemExit)


def test_values_are_collected_between_begin_and_end(monkeypatch):
    monkeypatch.setenv("T_CONFIG_BOOL", "sometimes")
    monkeypatch.setenv("T_CONFIG_PASSWORD_FILE", "/nowhere/at/all")
    env.begin_validation()
    try:
        assert env.env_bool("T_CONFIG_BOOL", True) is True  # the default, for now
        assert env.env_str("T_CONFIG_PASSWORD", "fallback") == "fallback"
    finally:
        with pytest.raises(env.ConfigurationError) as stopped:
            env.end_validation()
    assert [line.split(":")[0] for line in stopped.value.problems] == [
        "T_CONFIG_BOOL='sometimes'",
        "T_CONFIG_PASSWORD_FILE='/nowhere/at/all'",
    ]
    env.end_validation()  # nothing left: a second call passes
