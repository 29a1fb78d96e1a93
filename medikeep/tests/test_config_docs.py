"""docs/configuration.md and .env.example name every environment variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Code that is not the server: tests, benchmarks, the virtualenv and generated data.
SKIPPED_PARTS = {".venv", "var", "tests", "bench", "node_modules", ".git"}
# Set by the entry points themselves, not by operators.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}

_READS = [
    # env_str("NAME" …), env_int(\n "NAME" …): every helper of medikeep/env.py
    re.compile(r"\benv_[a-z_]+\(\s*\"([A-Z][A-Z0-9_]*)\""),
    re.compile(r"os\.environ(?:\.get)?[(\[]\s*\"([A-Z][A-Z0-9_]*)\""),
    re.compile(r"os\.getenv\(\s*\"([A-Z][A-Z0-9_]*)\""),
    # the periodic task table: PeriodicTask(name, task, cron, "ENV_NAME")
    re.compile(r"\"([A-Z][A-Z0-9_]*_CRON)\""),
]


def _server_sources() -> list[Path]:
    return [
        path
        for path in REPO.rglob("*.py")
        if not SKIPPED_PARTS.intersection(path.relative_to(REPO).parts)
    ]


def variables_the_code_reads() -> dict[str, str]:
    found = {}
    for path in _server_sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in _READS:
            for name in pattern.findall(text):
                found.setdefault(name, str(path.relative_to(REPO)))
    return {name: where for name, where in found.items() if name not in NOT_SETTINGS}


def test_the_scan_finds_what_settings_reads():
    found = variables_the_code_reads()
    # One of each kind of read, so a broken pattern cannot pass silently.
    for name in ("DATABASE_URL", "LOG_LEVEL", "REMINDER_PLAN_CRON", "MEDIKEEP_ADMIN_PASSWORD"):
        assert name in found
    assert len(found) > 90


def test_docs_configuration_lists_every_variable():
    documented = set(
        re.findall(r"`([A-Z][A-Z0-9_]*)`", (REPO / "docs/configuration.md").read_text())
    )
    missing = {
        name: where for name, where in variables_the_code_reads().items() if name not in documented
    }
    assert missing == {}, "add these to docs/configuration.md (and .env.example)"


def test_env_example_names_every_variable():
    text = (REPO / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    missing = sorted(set(variables_the_code_reads()) - listed)
    assert missing == []


def test_readme_links_the_configuration_page():
    readme = (REPO / "README.md").read_text()
    assert "](docs/configuration.md)" in readme
