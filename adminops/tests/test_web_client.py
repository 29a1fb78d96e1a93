"""§15 of web-client-api.md: the system, utility and log calls the web app makes on every page
load, with the cookie the browser always sends (stale after a session ends)."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(anon):
    anon.cookies[settings.AUTH_COOKIE_NAME] = "an.expired.session"
    return anon


def test_version_has_a_name_and_a_version(browser):
    body = browser.get("/api/v1/system/version").json()

    assert body["app_name"] and body["version"]


@pytest.mark.parametrize("limit", [20, 5])
def test_releases_for_the_whats_new_modal(browser, limit):
    response = browser.get("/api/v1/system/releases", {"limit": limit})

    assert response.status_code == 200
    body = response.json()
    assert body["current_version"] == settings.APP_VERSION
    assert 0 < len(body["releases"]) <= limit
    for release in body["releases"]:
        assert {"tag_name", "name", "body", "published_at", "html_url"} <= set(release)
    assert body["releases"][0]["tag_name"] == f"v{settings.APP_VERSION}"


def test_log_level(browser):
    body = browser.get("/api/v1/system/log-level").json()

    assert body["current_level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def test_timezone_info_has_the_apps_and_the_specs_name(browser, settings):
    settings.TIME_ZONE = "America/New_York"

    body = browser.get("/api/v1/utils/timezone-info").json()

    assert body["facility_timezone"] == body["timezone"] == "America/New_York"


def test_root_health_without_a_cookie(anon):
    assert anon.get("/health").status_code == 200
