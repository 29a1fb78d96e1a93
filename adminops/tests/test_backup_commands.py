"""manage.py backup, verify and list_backups."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from adminops.backups import archive
from adminops.models import Backup, BackupStatus
from adminops.tests.backup_helpers import store_file, use_backup_dir
from files.tests.s3server import local_files_storage  # noqa: F401 - fixture found by name

pytestmark = pytest.mark.usefixtures("local_files_storage")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backup_dir(settings, tmp_path):
    return use_backup_dir(settings, tmp_path)


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_backup_writes_and_records_with_a_progress_bar(backup_dir, patient):
    store_file(patient, b"%PDF-1.4 scan\n" * 1000)
    out, err = _run("backup", "--type", "full", "--description", "before upgrade")
    backup = Backup.objects.get()
    assert backup.status == BackupStatus.COMPLETED and backup.backup_type == "full"
    assert backup.description == "before upgrade"
    assert str(backup.file_path) in out and backup.sha256 in out
    assert "100%" in err  # the progress lines (stderr is not a terminal here)

    out, _ = _run("verify", str(backup.pk))
    assert "The backup is valid." in out
    assert Backup.objects.get().status == BackupStatus.VERIFIED

    out, _ = _run("list_backups")
    assert backup.filename in out and "verified" in out
    (line,) = _run("list_backups", "--json")[0].splitlines()
    assert json.loads(line)["id"] == backup.pk


@pytest.mark.django_db(transaction=True)
def test_backup_to_an_output_path_and_verify_by_path(backup_dir, tmp_path):
    target = tmp_path / "usb" / "copy.tar"
    _run("backup", "--type", "database", "--output", str(target), "--no-progress")
    backup = Backup.objects.get()
    assert target.is_file() and backup.file_path == target
    out, _ = _run("verify", str(target), "--no-progress")
    assert "native: ok" in out
    with pytest.raises(CommandError, match="exists"):
        _run("backup", "--type", "database", "--output", str(target))


@pytest.mark.django_db(transaction=True)
def test_backup_with_encrypt_but_no_keys_fails(backup_dir):
    with pytest.raises(CommandError, match="BACKUP_AGE_RECIPIENTS"):
        _run("backup", "--type", "database", "--encrypt", "--no-progress")
    assert Backup.objects.get().status == BackupStatus.FAILED


@pytest.mark.django_db
def test_verify_of_a_tampered_file_or_an_unknown_id_fails(backup_dir, patient):
    with pytest.raises(CommandError, match="No backup with id 12345"):
        _run("verify", "12345")
    entity_file = store_file(patient, b"%PDF-1.4 z\n" * 100)
    path = backup_dir / "files.tar"
    archive.write_backup("files", path)
    with tarfile.open(path) as tar:
        offset = tar.getmember(f"files/{entity_file.stored_name}").offset_data
    data = bytearray(path.read_bytes())
    data[offset + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="NOT valid"):
        _run("verify", str(path), "--no-progress")


def test_the_commands_exit_non_zero_on_failure(tmp_path):
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar archive at all" * 100)
    result = subprocess.run(
        [sys.executable, "manage.py", "verify", str(broken), "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "NOT valid" in result.stderr and "tar" in result.stderr
