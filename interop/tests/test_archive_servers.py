"""The archive moves an account between two fresh databases: two separate "servers" (their
own SQLite file, media folder and keys), each migrated from nothing by `manage.py migrate`,
driven only through manage.py in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.apps import apps

from interop.archive import tables as t

ROOT = Path(__file__).resolve().parents[2]
MAKE_DATA = """
from django.contrib.auth import get_user_model
from interop.tests.archive_helpers import build_account
user = get_user_model().objects.create_user("family", "family@example.org", "x-Password-1")
build_account(user, patients=2)
"""


def _server(base: Path, name: str) -> dict:
    folder = base / name
    folder.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY", "REDIS_URL", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        MEDIKEEP_VAR_DIR=str(folder / "var"),
        MEDIKEEP_MEDIA_ROOT=str(folder / "media"),
        CELERY_TASK_ALWAYS_EAGER="true",
        DJANGO_SETTINGS_MODULE="medikeep.settings",
    )
    return env


def _manage(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _comparable(path: Path) -> dict:
    """The archive's data with every id replaced by the row's position (or a reference
    entry's name) and member names by their content's checksum."""
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        data = {
            name.removeprefix("data/").removesuffix(".json"): json.loads(zf.read(name))
            for name in zf.namelist()
            if name.startswith("data/")
        }
        reference = {
            name.removeprefix("reference/").removesuffix(".json"): json.loads(zf.read(name))
            for name in zf.namelist()
            if name.startswith("reference/")
        }
    position = {
        label: {row["id"]: index for index, row in enumerate(rows)} for label, rows in data.items()
    }
    names = {
        label: {row["id"]: row.get("name") or row.get("vaccine_name") for row in rows}
        for label, rows in reference.items()
    }
    result = {}
    for label, rows in data.items():
        table = t.table_for(label)
        if table is None or table.role == "identifier":
            continue
        model = apps.get_model(label)
        fks = {f.attname: t.label_of(f.related_model) for f in t.relation_fields(model)}
        normal = []
        for row in rows:
            item = {}
            for key, value in row.items():
                if key in {"id", "stored_name", "file"}:
                    continue
                if key == "_member":
                    value = manifest["members"][value]["sha256"]
                elif key in fks and value is not None:
                    target = fks[key]
                    if target == "accounts.user":
                        value = "owner" if value == manifest["user"]["id"] else "other"
                    elif target in position:
                        value = ("row", position[target][value])
                    else:
                        value = ("ref", names[target][value])
                elif label == "files.entityfile" and key == "entity_id":
                    value = value is not None
                item[key] = value
            normal.append(item)
        result[label] = normal
    return result


@pytest.mark.django_db
def test_an_account_moves_between_two_fresh_databases(tmp_path):
    first, second = _server(tmp_path, "first"), _server(tmp_path, "second")
    _manage(first, "migrate", "--no-input")
    _manage(first, "shell", stdin=MAKE_DATA)
    _manage(first, "export_account", "family", "--output", str(tmp_path / "first.zip"))

    _manage(second, "migrate", "--no-input")
    out = _manage(second, "import_account", str(tmp_path / "first.zip"), "--username", "family")
    assert "created account family" in out
    _manage(second, "export_account", "family", "--output", str(tmp_path / "second.zip"))

    before, after = _comparable(tmp_path / "first.zip"), _comparable(tmp_path / "second.zip")
    assert set(before) == set(after)
    for label in before:
        if label == "notifications.notificationchannel":
            for row in before[label]:  # imported switched off, untested
                row.update(is_verified=False, last_test_at=None, last_test_status=None)
        if label == "accounts.userpreference":
            for row in (*before[label], *after[label]):
                row.pop("updated_at")
        assert after[label] == before[label], label
    assert before["patients.patient"] and before["files.entityfile"]
    for label, rows in before.items():  # every kind of record and link took part
        if t.table_for(label).role in ("record", "link", "dependent", "photo"):
            assert len(rows) >= 2, label
    # The second server is another server: its own identity, the first one's ids kept.
    with (
        zipfile.ZipFile(tmp_path / "first.zip") as a,
        zipfile.ZipFile(tmp_path / "second.zip") as b,
    ):
        system_a = json.loads(a.read("manifest.json"))["source"]["system"]
        system_b = json.loads(b.read("manifest.json"))["source"]["system"]
        kept = json.loads(b.read("data/interop.externalidentifier.json"))
    assert system_a != system_b
    assert {row["system"] for row in kept} == {system_a}
    assert sum(row["record_type"] == "patient" for row in kept) == 2

    # Importing it again on the second server is refused and changes nothing.
    again = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "import_account",
            str(tmp_path / "first.zip"),
            "--username",
            "family",
        ],
        cwd=ROOT,
        env=second,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode != 0 and "already been imported" in again.stderr
