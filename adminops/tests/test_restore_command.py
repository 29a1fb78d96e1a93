"""manage.py restore: by id or archive path, the confirmation prompt, --yes, exit status."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from adminops.backups.services import backup_create
from adminops.models import Backup, BackupStatus
from adminops.tests.restore_helpers import seed, stored_files, table_hashes, use_storage_dirs
from medikeep.accounts.models import User

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def dirs(settings, tmp_path):
    return use_storage_dirs(settings, tmp_path)


@pytest.fixture
def backup_then_change():
    seed("a")
    rows, files = table_hashes(), stored_files()
    backup = backup_create(backup_type="full")
    seed("b")
    return backup, rows, files


def _run(*args, stdin_text: str | None = None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin_text is not None:
        stdin = io.StringIO(stdin_text)
        stdin.isatty = lambda: True
        monkeypatch.setattr(sys, "stdin", stdin)
    call_command("restore", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_restore_by_id_with_yes(backup_then_change):
    backup, rows, files = backup_then_change
    out, _ = _run(str(backup.pk), "--yes")
    assert table_hashes() == rows and stored_files() == files
    assert f"Backup {backup.pk}: full" in out and "This will replace all current data" in out
    safety = Backup.objects.exclude(pk=backup.pk).get()
    assert f"Safety backup: {safety.pk}." in out


def test_without_yes_it_asks_and_only_restore_confirms(backup_then_change, monkeypatch):
    backup, rows, files = backup_then_change
    with pytest.raises(CommandError, match="Not restored"):
        _run(str(backup.pk), stdin_text="yes\n", monkeypatch=monkeypatch)
    assert User.objects.filter(username="owner-b").exists()
    _run(str(backup.pk), stdin_text="restore\n", monkeypatch=monkeypatch)
    assert table_hashes() == rows


def test_without_yes_and_without_a_terminal_it_refuses(backup_then_change, monkeypatch):
    backup, _rows, _files = backup_then_change
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="add --yes"):
        _run(str(backup.pk))
    assert User.objects.filter(username="owner-b").exists()
    assert Backup.objects.count() == 1  # not even a safety backup


def test_an_archive_path_is_checked_and_listed_in_place(backup_then_change, tmp_path):
    backup, rows, _files = backup_then_change
    elsewhere = tmp_path / "copied.tar"
    elsewhere.write_bytes(backup.file_path.read_bytes())

    _run(str(elsewhere), "--yes")

    assert table_hashes() == rows
    listed = Backup.objects.get(path=str(elsewhere))
    assert listed.status == BackupStatus.UPLOADED and listed.file_path == elsewhere
    # The same path again reuses its row.
    _run(str(elsewhere), "--yes")
    assert Backup.objects.filter(path=str(elsewhere)).count() == 1


def test_a_tampered_archive_path_is_refused(backup_then_change, tmp_path):
    backup, _rows, _files = backup_then_change
    data = bytearray(backup.file_path.read_bytes())
    data[data.rindex(b"jpeg bytes a")] ^= 0xFF
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="not a usable backup archive"):
        _run(str(tampered), "--yes")
    assert tampered.exists()  # the operator's file is never deleted
    assert Backup.objects.count() == 1 and User.objects.filter(username="owner-b").exists()


def test_unknown_source():
    with pytest.raises(CommandError, match="no backup 999"):
        _run("999", "--yes")
    with pytest.raises(CommandError, match="no such backup id or archive file"):
        _run("/nonexistent/backup.tar", "--yes")


def test_the_exit_status_is_non_zero_on_failure(tmp_path):
    run = subprocess.run(
        [sys.executable, "manage.py", "restore", str(tmp_path / "missing.tar"), "--yes"],
        cwd=django_settings.BASE_DIR,
        env={
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "MEDIKEEP_VAR_DIR": str(tmp_path / "var"),
            "BACKUP_DIR": str(tmp_path / "backups"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    assert "no such backup id or archive file" in run.stderr
