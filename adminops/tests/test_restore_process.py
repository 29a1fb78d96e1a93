"""Restores in their own processes: one killed (SIGKILL) midway leaves the old data and files;
a backup of an SQLite database restores into PostgreSQL with identical rows and files."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection

from adminops.backups.services import backup_create
from adminops.tests.restore_helpers import seed, stored_files, table_hashes, use_storage_dirs
from files import storage

BASE_DIR = Path(django_settings.BASE_DIR)
TIMEOUT = 240

# Schema straight from the models, as the test database is built (pytest --no-migrations).
SYNCDB = """
from django.conf import settings
from django.core.management import call_command

class _NoMigrations:
    def __contains__(self, app):
        return True

    def __getitem__(self, app):
        return None

settings.MIGRATION_MODULES = _NoMigrations()
call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
"""

# Runs `manage.py restore`, stopping for ever at the chosen point after printing PAUSED.
PAUSING_RESTORE = """
import sys, time
import django
django.setup()
from django.core.management import call_command
from adminops.backups import restore_db, restore_files

stage, source = sys.argv[1], sys.argv[2]

def pause(label):
    print("PAUSED", label, flush=True)
    time.sleep(3600)

if stage == "database":
    def table_loaded(self, table, rows):
        if len(self.loaded) == len(self.models) // 2:
            pause(table)
    restore_db.DatabaseLoader.table_loaded = table_loaded
else:
    written = restore_files.FileRestorer.restore
    def restore(self, member):
        written(self, member)
        if self.counts["written"] == 1:
            pause(member.name)
    restore_files.FileRestorer.restore = restore

call_command("restore", source, "--yes", "--no-progress")
print("FINISHED", flush=True)
"""

FINGERPRINT = """
import json, django
django.setup()
from adminops.tests.restore_helpers import table_hashes
print(json.dumps(table_hashes()))
"""


def _env(var: Path, media: Path, backups: Path, database_url: str | None) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "PYTEST_CURRENT_TEST", "BACKUP_ENCRYPT")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="medikeep.settings",
        MEDIKEEP_VAR_DIR=str(var),
        MEDIKEEP_MEDIA_ROOT=str(media),
        BACKUP_DIR=str(backups),
        BACKUP_ENCRYPT="false",
        CELERY_TASK_ALWAYS_EAGER="true",  # no message left on a shared broker
        PYTHONPATH=str(BASE_DIR),
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _python(env: dict, code: str, *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def _fingerprint(env: dict) -> dict:
    return json.loads(_python(env, FINGERPRINT).strip().splitlines()[-1])


def _postgres_url(settings_dict: dict, name: str) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{name}"


# --- killed midway --------------------------------------------------------------------------


@pytest.fixture
def current_database(settings, tmp_path):
    """(environment for a subprocess that works on this test's data and files, fingerprint
    function, copy function). PostgreSQL: the test database itself. SQLite (in memory here):
    a copy in a file, made by the copy function."""
    media = use_storage_dirs(settings, tmp_path)
    backups = Path(settings.BACKUP_DIR)
    var = tmp_path / "var"
    var.mkdir()
    if connection.vendor == "postgresql":
        env = _env(
            var,
            media,
            backups,
            _postgres_url(connection.settings_dict, connection.settings_dict["NAME"]),
        )

        def snapshot():
            return table_hashes()

        return env, snapshot, lambda: None
    env = _env(var, media, backups, None)

    def copy_database():
        connection.ensure_connection()
        target = sqlite3.connect(var / "medikeep.sqlite3")
        try:
            connection.connection.backup(target)
        finally:
            target.close()

    return env, lambda: _fingerprint(env), copy_database


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stage", ["database", "files"])
def test_a_restore_killed_midway_leaves_the_old_data_and_files(current_database, stage):
    env, snapshot, copy_database = current_database
    seeded = seed("a")
    backup = backup_create(backup_type="full")
    seed("b")
    for entity_file in seeded["files"]:  # so the restore has files to write
        storage.delete(entity_file.stored_name)
    copy_database()
    rows, files = snapshot(), stored_files()

    process = subprocess.Popen(
        [sys.executable, "-c", PAUSING_RESTORE, stage, str(backup.pk)],
        env=env,
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        line = ""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or line.startswith(("PAUSED", "FINISHED")):
                break
        assert line.startswith("PAUSED"), f"{line!r} {process.stderr.read()[-3000:]}"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    assert snapshot() == rows
    after = stored_files()
    assert {key: after.get(key) for key in files} == files  # every old file, unchanged
    extra = set(after) - set(files)
    if stage == "database":
        assert extra == set()
    else:  # the file written before the kill stays, named by no row: an orphan, harmless
        assert len(extra) == 1
        assert extra <= {f"files/{f.stored_name}" for f in seeded["files"]}


# --- SQLite -> PostgreSQL -------------------------------------------------------------------

SOURCE = (
    "import json, django\ndjango.setup()\n"
    + SYNCDB
    + """
from adminops.backups.services import backup_create
from adminops.tests.restore_helpers import seed, table_hashes
from django.db import connection
assert connection.vendor == "sqlite"
seed("a")
backup = backup_create(backup_type="full")
print(json.dumps({"path": str(backup.file_path), "tables": table_hashes()}))
"""
)

TARGET = (
    "import json, sys, django\ndjango.setup()\n"
    + SYNCDB
    + """
from django.db import connection
assert connection.vendor == "postgresql"
call_command("restore", sys.argv[1], "--yes", "--no-progress")
from adminops.tests.restore_helpers import table_hashes
print(json.dumps(table_hashes()))
"""
)


def _postgres_server() -> str:
    """A URL of a PostgreSQL server to make a throw-away database on, or a skip."""
    if connection.vendor == "postgresql":
        return _postgres_url(connection.settings_dict, "postgres")
    url = os.environ.get(
        "MEDIKEEP_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(
            f"PostgreSQL is not reachable at {url} ({type(exc).__name__}); "
            "MEDIKEEP_TEST_POSTGRES_URL names another server"
        )
    return url


@pytest.fixture
def throwaway_postgres():
    import psycopg

    server = _postgres_server()
    name = f"medikeep_restore_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tree(root: Path) -> dict[str, str]:
    import hashlib

    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_an_sqlite_backup_restores_into_postgresql(tmp_path, throwaway_postgres):
    source_dirs = [tmp_path / "sqlite" / part for part in ("var", "media", "backups")]
    target_dirs = [tmp_path / "postgres" / part for part in ("var", "media", "backups")]
    for directory in [*source_dirs, *target_dirs]:
        directory.mkdir(parents=True)
    source = json.loads(_python(_env(*source_dirs, None), SOURCE).strip().splitlines()[-1])
    assert source["tables"]["files_entityfile"][0] == 2

    output = _python(_env(*target_dirs, throwaway_postgres), TARGET, source["path"])

    restored = json.loads(output.strip().splitlines()[-1])
    assert restored == source["tables"]
    assert _tree(target_dirs[1]) == _tree(source_dirs[1])
    assert len(_tree(target_dirs[1])) == 3
