"""APP_PUBLIC_URL and the HTTPS settings, `check --deploy` with the documented settings, the
Host-header answer under /api/, and the Content-Security-Policy of HTML pages."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from medikeep.middleware import ContentSecurityPolicyMiddleware
from medikeep.tests.test_config_validation import REPO, _clean_env

CONFIGURATION_MD = REPO / "docs" / "configuration.md"
SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k) for k in ["
    "'ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS', 'AUTH_COOKIE_SECURE', 'SESSION_COOKIE_SECURE', "
    "'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'SECURE_SSL_REDIRECT']}))"
)


def _settings_with(tmp_path: Path, **env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=REPO,
        env=_clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_public_url_gives_hosts_origins_and_secure_cookies(tmp_path):
    found = _settings_with(tmp_path, APP_PUBLIC_URL="https://health.example.org")
    assert found["ALLOWED_HOSTS"][0] == "health.example.org"
    assert "localhost" in found["ALLOWED_HOSTS"]  # probes on the machine itself
    assert found["CSRF_TRUSTED_ORIGINS"] == ["https://health.example.org"]
    assert found["AUTH_COOKIE_SECURE"] is True
    assert found["SESSION_COOKIE_SECURE"] is True
    assert found["CSRF_COOKIE_SECURE"] is True


def test_a_plain_http_public_url_keeps_cookies_usable_over_http(tmp_path):
    found = _settings_with(tmp_path, APP_PUBLIC_URL="http://nas.local:8000")
    assert found["ALLOWED_HOSTS"][0] == "nas.local"
    assert found["CSRF_TRUSTED_ORIGINS"] == ["http://nas.local:8000"]
    assert found["AUTH_COOKIE_SECURE"] is False


def test_explicit_settings_override_the_public_url(tmp_path):
    found = _settings_with(
        tmp_path,
        APP_PUBLIC_URL="https://health.example.org",
        DJANGO_ALLOWED_HOSTS="mk.internal",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://*.example.org",
        AUTH_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="3600",
        SECURE_SSL_REDIRECT="true",
    )
    assert found["ALLOWED_HOSTS"] == ["mk.internal"]
    assert found["CSRF_TRUSTED_ORIGINS"] == ["https://*.example.org"]
    assert found["AUTH_COOKIE_SECURE"] is False
    assert found["SECURE_HSTS_SECONDS"] == 3600
    assert found["SECURE_SSL_REDIRECT"] is True


def test_unset_everything_stays_as_make_run_has_it(tmp_path):
    found = _settings_with(tmp_path)
    assert found["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]", "testserver"]
    assert found["CSRF_TRUSTED_ORIGINS"] == []
    assert found["AUTH_COOKIE_SECURE"] is False
    assert found["SECURE_HSTS_SECONDS"] == 0


def _documented_https_settings() -> dict[str, str]:
    """The `sh` block under "An HTTPS deployment" in docs/configuration.md."""
    text = CONFIGURATION_MD.read_text()
    section = text.split("## An HTTPS deployment", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    pairs = [line.split("=", 1) for line in block.splitlines() if "=" in line]
    return {name.strip(): value.strip() for name, value in pairs}


def test_check_deploy_is_clean_for_the_documented_https_settings(tmp_path):
    env = _documented_https_settings()
    assert env["APP_PUBLIC_URL"].startswith("https://")
    # The documented secret file, made here: a key of the kind `make run` generates.
    secret = tmp_path / "django_secret_key"
    secret.write_text(base64.urlsafe_b64encode(hashlib.sha512(b"test").digest()).decode())
    env["DJANGO_SECRET_KEY_FILE"] = str(secret)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=_clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_without_https(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=REPO,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    for check in ("security.W004", "security.W008", "medikeep.W001", "medikeep.W004"):
        assert check in result.stderr + result.stdout


# --- the Host header ----------------------------------------------------------------------


def test_a_wrong_host_under_the_api_answers_the_json_error_and_logs_why(anon, db, caplog):
    with caplog.at_level(logging.WARNING, logger="medikeep.security"):
        response = anon.get("/api/v1/system/version", HTTP_HOST="evil.example")

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert "host" in body["error"].lower()
    assert body["error_code"]
    logged = [r.getMessage() for r in caplog.records if "Host header" in r.getMessage()]
    assert len(logged) == 1
    assert "'evil.example'" in logged[0]
    assert "localhost" in logged[0]  # which hosts are allowed
    assert "/api/v1/system/version" in logged[0]


def test_a_wrong_host_elsewhere_gets_djangos_own_400(anon, db):
    response = anon.get("/admin/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert not response["Content-Type"].startswith("application/json")


def test_an_allowed_host_is_served(anon, db):
    assert anon.get("/api/v1/system/version", HTTP_HOST="localhost").status_code == 200


# --- Content-Security-Policy --------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _inline_scripts(html: bytes) -> list[bytes]:
    return re.findall(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.DOTALL)


@pytest.mark.parametrize(
    "path", ["/admin/login/", "/portal/join?token=abc", "/password-reset?uid=x&token=y"]
)
def test_html_pages_send_a_strict_policy(anon, db, path):
    response = anon.get(path)
    assert response["Content-Type"].startswith("text/html")
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # Nothing on these pages needs more: no inline script they would lose.
    assert _inline_scripts(response.content) == []


def test_the_admin_after_sign_in_sends_the_policy(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert _policy(response)["script-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/api/v1/docs", "/api/v1/redoc"])
def test_api_docs_allow_exactly_their_own_inline_scripts(anon, db, path):
    response = anon.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    allowed = set(policy["script-src"])
    assert "'unsafe-inline'" not in allowed and "'unsafe-eval'" not in allowed
    expected = {
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _inline_scripts(response.content)
    }
    assert allowed == {"'self'", *expected}
    for url in re.findall(rb'<script[^>]+src="([^"]+)"', response.content):
        assert url.startswith(b"/") and not url.startswith(b"//"), url  # from this server
    assert policy["worker-src"] == ["'self'", "blob:"]


def test_json_answers_carry_no_policy(anon, db):
    response = anon.get("/api/v1/system/version")
    assert "Content-Security-Policy" not in response


def test_a_page_with_its_own_policy_keeps_it():
    def view(request):
        response = HttpResponse("<p>file</p>", content_type="text/html")
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response

    response = ContentSecurityPolicyMiddleware(view)(RequestFactory().get("/x"))
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
