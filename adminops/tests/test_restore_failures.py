"""A restore that fails leaves the data and the files as they were: an injected failure at
the last table, a damaged member after the database has loaded, rows the database refuses,
unsafe members, a stored archive changed since it was recorded, a failed safety backup."""

from __future__ import annotations

import tarfile

import pytest

from adminops.backups import restore
from adminops.backups.database import PORTABLE, dump_models
from adminops.backups.restore_db import DatabaseLoader
from adminops.backups.services import backup_create
from adminops.models import ActivityLog, Backup
from adminops.tests.restore_helpers import (
    register,
    rewrite_archive,
    seed,
    stored_files,
    table_hashes,
    use_storage_dirs,
)
from files import storage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def dirs(settings, tmp_path):
    return use_storage_dirs(settings, tmp_path)


@pytest.fixture
def changed_since(settings):
    """A full backup of household "a", then "b" added and a's entity files deleted from
    storage (so a restore writes files before it reaches the photo); answers the backup and
    the fingerprints of the data as it is now."""
    seeded = seed("a")
    backup = backup_create(backup_type="full")
    seed("b")
    for entity_file in seeded["files"]:
        storage.delete(entity_file.stored_name)
    return backup, table_hashes(), stored_files()


def _unchanged(rows, files, backups: int) -> None:
    assert table_hashes() == rows
    assert stored_files() == files  # nothing written is left, nothing old is gone
    assert Backup.objects.count() == backups
    assert not ActivityLog.objects.filter(action="restore_completed").exists()


def test_a_failure_at_the_last_table_leaves_everything(changed_since, monkeypatch):
    backup, rows, files = changed_since
    last = [m._meta.db_table for m in dump_models()][-1]
    seen = []

    def fail_at_the_end(self, table, count):
        seen.append(table)
        if table == last:
            raise RuntimeError("injected")

    monkeypatch.setattr(DatabaseLoader, "table_loaded", fail_at_the_end)

    with pytest.raises(restore.RestoreFailed, match="nothing was changed"):
        restore.restore_backup(backup)

    assert len(seen) > 60  # every table had been emptied and loaded before the failure
    _unchanged(rows, files, backups=2)  # the backup and its safety backup
    failed = ActivityLog.objects.get(action="restore_failed")
    assert "injected" in failed.metadata["reason"]


def test_a_damaged_member_after_the_database_leaves_everything(changed_since, tmp_path):
    backup, rows, files = changed_since
    # The photo comes last: the database is loaded and a's files are written when it fails.
    data = bytearray(backup.file_path.read_bytes())
    position = data.rindex(b"jpeg bytes a")
    data[position] ^= 0xFF
    backup.file_path.write_bytes(bytes(data))
    forged = register(backup.file_path)  # as if recorded that way: only the manifest disagrees

    with pytest.raises(restore.ArchiveRejected, match="do not match the manifest"):
        restore.restore_backup(forged)

    _unchanged(rows, files, backups=3)


def test_rows_the_database_refuses_leave_everything(changed_since, settings):
    backup, rows, files = changed_since

    def duplicate_a_user(name, data):
        if name != PORTABLE:
            return data
        lines = data.split(b"\n")
        header = next(i for i, line in enumerate(lines) if b'"table":"accounts_user"' in line)
        lines.insert(header + 2, lines[header + 1])  # the same primary key twice
        return b"\n".join(lines)

    users = Backup.objects.get(pk=backup.pk).details["tables"]
    count = next(t["rows"] for t in users if t["table"] == "accounts_user")
    forged = register(
        rewrite_archive(
            backup.file_path,
            settings.BACKUP_DIR / "forged.tar",
            edit=duplicate_a_user,
            table_counts={"accounts_user": count + 1},
        )
    )

    with pytest.raises(restore.ArchiveRejected, match="refused the backup's rows"):
        restore.restore_backup(forged)

    _unchanged(rows, files, backups=3)


def test_a_broken_reference_leaves_everything(changed_since, settings):
    backup, rows, files = changed_since

    def orphan_a_medication(name, data):
        if name != PORTABLE:
            return data
        lines = data.split(b"\n")
        header = next(i for i, line in enumerate(lines) if b'"table":"patients_patient"' in line)
        patients = 0
        while lines[header + 1 + patients].startswith(b"["):
            patients += 1
        del lines[header + 1 : header + 1 + patients]  # every patient gone, records stay
        return b"\n".join(lines)

    forged = register(
        rewrite_archive(
            backup.file_path,
            settings.BACKUP_DIR / "forged.tar",
            edit=orphan_a_medication,
            table_counts={"patients_patient": 0},
        )
    )

    with pytest.raises(restore.ArchiveRejected, match="break"):
        restore.restore_backup(forged)

    _unchanged(rows, files, backups=3)


UNSAFE, LINK = "unsafe member name", "not a regular file"


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ({"name": "files/../../escape"}, UNSAFE),
        ({"name": "/etc/escape"}, UNSAFE),
        ({"name": "files/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, LINK),
        ({"name": "files/hard", "type": tarfile.LNKTYPE, "linkname": "manifest.json"}, LINK),
        ({"name": "files/dev", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, LINK),
    ],
    ids=["dot-dot", "absolute", "symlink", "hardlink", "device"],
)
def test_unsafe_members_stop_the_restore_and_leave_everything(
    changed_since, settings, member, reason
):
    backup, rows, files = changed_since
    forged = register(
        rewrite_archive(
            backup.file_path,
            settings.BACKUP_DIR / "forged.tar",
            extra=[(member, b"" if "type" in member else b"owned")],
        )
    )

    with pytest.raises(restore.ArchiveRejected, match=reason):
        restore.restore_backup(forged)

    _unchanged(rows, files, backups=3)
    assert not (settings.MEDIA_ROOT.parent / "escape").exists()


def test_a_stored_archive_changed_since_it_was_recorded_is_refused_first(changed_since):
    backup, rows, files = changed_since
    with open(backup.file_path, "r+b") as handle:
        handle.seek(-1, 2)
        handle.write(b"\x01")  # past the tar's end: the members still read fine

    with pytest.raises(restore.ArchiveRejected, match="changed or damaged"):
        restore.restore_backup(backup)

    _unchanged(rows, files, backups=1)  # refused before the safety backup


def test_a_failed_safety_backup_stops_the_restore(changed_since):
    backup, rows, files = changed_since
    from files.models import EntityFile

    damaged = EntityFile.objects.filter(patient__first_name="Pat b").first()
    with open(storage.file_storage().path(damaged.stored_name), "ab") as handle:
        handle.write(b"grown")  # the backup writer refuses a file that differs from its row
    files = stored_files()

    with pytest.raises(restore.RestoreFailed, match="safety backup failed"):
        restore.restore_backup(backup)

    assert table_hashes() == rows and stored_files() == files
    assert Backup.objects.filter(status="failed").count() == 1


def test_one_restore_at_a_time(changed_since):
    backup, rows, files = changed_since
    with (
        restore._one_restore_at_a_time(),
        pytest.raises(restore.ConflictError, match="already running"),
    ):
        restore.restore_backup(backup)
    _unchanged(rows, files, backups=1)


def test_scratch_files_of_a_killed_restore_are_swept_by_the_next(changed_since, settings):
    backup, rows, files = changed_since
    root = settings.MEDIA_ROOT / "files" / "medication"
    leftovers = [root / ".restoring-dead-x1", settings.BACKUP_DIR / ".restoring-dead-x2"]
    for path in leftovers:
        path.write_bytes(b"half a member")

    restore.restore_backup(backup)

    assert not any(path.exists() for path in leftovers)


def test_preview_warns_when_the_files_may_not_fit(changed_since, monkeypatch):
    import shutil
    from collections import namedtuple

    backup, _rows, _files = changed_since
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100, 99, 1))
    warnings = restore.preview(backup)["warnings"]
    assert any("free where files are stored" in w for w in warnings)


def test_a_value_that_does_not_fit_its_column_is_422(changed_since, settings):
    import json

    backup, rows, files = changed_since

    def spoil_a_date(name, data):
        if name != PORTABLE:
            return data
        lines = data.split(b"\n")
        header_at = next(i for i, line in enumerate(lines) if b'"table":"records_vitals"' in line)
        header = json.loads(lines[header_at])
        row = json.loads(lines[header_at + 1])
        row[header["fields"].index("recorded_date")] = "the day before yesterday"
        lines[header_at + 1] = json.dumps(row).encode()
        return b"\n".join(lines)

    forged = register(
        rewrite_archive(backup.file_path, settings.BACKUP_DIR / "forged.tar", edit=spoil_a_date)
    )

    with pytest.raises(restore.ArchiveRejected, match="nothing was changed"):
        restore.restore_backup(forged)

    _unchanged(rows, files, backups=3)
