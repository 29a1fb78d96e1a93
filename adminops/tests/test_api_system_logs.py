"""Logging configuration endpoints (rate limited per address) and /system/releases."""

import time

import pytest
from django.utils.dateparse import parse_datetime

from adminops import selectors

LOG_LEVEL = "/api/v1/system/log-level"
ROTATION = "/api/v1/system/log-rotation-config"
RELEASES = "/api/v1/system/releases"


@pytest.fixture
def system_rate_two(settings):
    settings.API_RATES = {**settings.API_RATES, "system": "2/min"}


def test_log_level_describes_the_configuration(anon, settings):
    response = anon.get(LOG_LEVEL)

    assert response.status_code == 200
    body = response.json()
    assert body["current_level"] == settings.LOG_LEVEL
    assert body["available_levels"] == ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    assert body["categories"] == list(settings.LOG_CATEGORIES)
    assert set(body["file_mapping"]) == set(settings.LOG_CATEGORIES)
    assert body["file_mapping"]["app"].startswith(f"{settings.LOG_DIR.name}/app.log - ")
    config = body["configuration"]
    assert config["file_count"] == len(settings.LOG_CATEGORIES)
    assert config["backup_count"] == settings.LOG_BACKUP_COUNT
    assert config["max_file_size_mb"] == settings.LOG_MAX_BYTES / (1024 * 1024)


def test_log_level_numeric_follows_the_level(anon, settings):
    settings.LOG_LEVEL = "WARNING"

    assert anon.get(LOG_LEVEL).json()["configuration"]["log_level_numeric"] == 30


def test_log_level_reports_the_callers_rate_limit(anon, system_rate_two):
    info = anon.get(LOG_LEVEL).json()["rate_limit_info"]

    assert info["requests_limit"] == 2
    assert info["requests_remaining"] == 1
    assert info["window_seconds"] == 60
    reset = parse_datetime(info["reset_time"]).timestamp()
    assert time.time() < reset <= time.time() + 61


@pytest.mark.parametrize("path", [LOG_LEVEL, ROTATION])
def test_system_scope_refuses_past_the_limit(anon, system_rate_two, path):
    assert [anon.get(path).status_code for _ in range(2)] == [200, 200]

    refused = anon.get(path)

    assert refused.status_code == 429
    assert refused.json()["error_code"] == "RATE-429"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Limit"] == "2"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert int(refused["X-RateLimit-Reset"]) >= int(time.time())


def test_system_scope_counts_per_address(anon, system_rate_two):
    for _ in range(2):
        anon.get(LOG_LEVEL)

    # Another client address has its own allowance; the same address is still refused.
    assert anon.get(ROTATION, REMOTE_ADDR="10.0.0.9").status_code == 200
    assert anon.get(ROTATION).status_code == 429


def test_rotation_config_lists_each_log_file(anon, settings, tmp_path):
    settings.LOG_DIR = tmp_path
    with open(tmp_path / "app.log", "wb") as log_file:
        log_file.truncate(1536 * 1024)  # sparse: size without writing 1.5 MB

    response = anon.get(ROTATION)

    assert response.status_code == 200
    body = response.json()
    assert body["rotation_method"] == "python"
    assert isinstance(body["logrotate_available"], bool)
    assert body["log_directory"] == str(tmp_path)
    assert set(body["log_files"]) == set(settings.LOG_CATEGORIES)
    assert body["log_files"]["app"] == {
        "path": str(tmp_path / "app.log"),
        "size_bytes": 1536 * 1024,
        "size_mb": 1.5,
        "exists": True,
    }
    assert body["log_files"]["security"]["exists"] is False
    assert body["configuration"]["backup_count"] == settings.LOG_BACKUP_COUNT
    assert body["features"]["size_based_rotation"] is True


def test_rotation_config_sees_logrotate(anon, monkeypatch):
    monkeypatch.setattr(selectors.shutil, "which", lambda name: f"/usr/sbin/{name}")

    assert anon.get(ROTATION).json()["logrotate_available"] is True


# --- releases ---------------------------------------------------------------------------------


def test_newest_changelog_entry_is_the_running_version(settings):
    newest = selectors.release_notes(limit=1)

    assert newest, "CHANGELOG.md has no released section"
    assert newest[0]["tag_name"] == f"v{settings.APP_VERSION}"


def test_releases_come_from_the_changelog(anon, settings):
    response = anon.get(RELEASES)

    assert response.status_code == 200
    body = response.json()
    assert body["current_version"] == settings.APP_VERSION
    first = body["releases"][0]
    assert first["tag_name"] == first["name"] == f"v{settings.APP_VERSION}"
    assert first["published_at"] == "2026-11-21T00:00:00Z"
    assert first["html_url"] is None
    assert first["body"].startswith("### Added")


def _write_changelog(path, versions):
    sections = "\n".join(
        f"## [{v}] - 2026-01-{i + 1:02d}\n- change {v}\n" for i, v in enumerate(versions)
    )
    path.write_text(f"# Changelog\n\n## [Unreleased]\n- not yet\n\n{sections}", encoding="utf-8")
    return path


@pytest.mark.parametrize(("query", "expected"), [("", 10), ("?limit=3", 3), ("?limit=50", 20)])
def test_releases_limit_defaults_and_cap(anon, monkeypatch, tmp_path, query, expected):
    changelog = _write_changelog(tmp_path / "CHANGELOG.md", [f"1.{n}.0" for n in range(25, 0, -1)])
    monkeypatch.setattr(selectors, "changelog_path", lambda: changelog)

    releases = anon.get(RELEASES + query).json()["releases"]

    assert len(releases) == expected
    assert releases[0]["tag_name"] == "v1.25.0"


@pytest.mark.parametrize("limit", ["0", "-2", "ten"])
def test_releases_refuses_a_bad_limit(anon, limit):
    response = anon.get(RELEASES, {"limit": limit})

    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "error"
    assert body["error_code"] == "VAL-422"
    assert "limit" in body["errors"]


def test_changelog_parser_skips_unreleased_and_link_references(tmp_path):
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(
        "# Changelog\n\n## [Unreleased]\n- draft\n\n"
        "## [2.0.0] - 2026-02-03\n### Changed\n- big change\n\n"
        "## [1.0.0] - someday\n- first\n\n"
        "[2.0.0]: https://example.org/compare/v1.0.0...v2.0.0\n",
        encoding="utf-8",
    )

    releases = selectors.release_notes(changelog)

    assert [r["tag_name"] for r in releases] == ["v2.0.0", "v1.0.0"]
    assert releases[0]["body"] == "### Changed\n- big change"
    assert releases[0]["published_at"].isoformat() == "2026-02-03T00:00:00+00:00"
    assert releases[1]["body"] == "- first"
    assert releases[1]["published_at"] is None


def test_wrapped_list_items_are_given_back_on_one_line(tmp_path):
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(
        "## [1.0.0] - 2026-01-01\n### Added\n- a long item that\n  goes on here\n"
        "  and here.\n- next item\n\n    code block line\n",
        encoding="utf-8",
    )

    body = selectors.release_notes(changelog)[0]["body"]

    assert body == (
        "### Added\n- a long item that goes on here and here.\n- next item\n\n    code block line"
    )


def test_missing_changelog_gives_no_releases(tmp_path):
    assert selectors.release_notes(tmp_path / "absent.md") == []
