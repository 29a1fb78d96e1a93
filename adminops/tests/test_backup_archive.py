"""The archive format: write, read and verify on this run's database (SQLite, or PostgreSQL
when DATABASE_URL says so), files streamed, and archives that must be refused."""

from __future__ import annotations

import hashlib
import json
import tarfile
import tracemalloc

import pytest
from django.db import connection

from adminops.backups import archive
from adminops.backups.database import NATIVE_POSTGRES, NATIVE_SQLITE
from adminops.tests.backup_helpers import craft_archive, store_file, use_backup_dir
from files.tests.s3server import (  # noqa: F401 - fixtures found by name
    files_storage,
    local_files_storage,
    s3_bucket,
    s3_files_storage,
    s3_server,
)

NATIVE = NATIVE_POSTGRES if connection.vendor == "postgresql" else NATIVE_SQLITE


@pytest.fixture
def backup_dir(settings, tmp_path):
    return use_backup_dir(settings, tmp_path)


def _members(path) -> dict[str, bytes]:
    with archive.open_archive(path) as opened:
        return {m.name: b"".join(m.chunks()) for m in opened.iter_members()}


def _portable_rows(raw: bytes, table: str) -> list[dict]:
    rows = []
    for header, row in archive.iter_portable([raw]):
        if header["table"] == table and row is not None:
            rows.append(dict(zip(header["fields"], row, strict=True)))
    return rows


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("local_files_storage")
def test_full_backup_round_trip(backup_dir, patient, alice, admin_user):
    from django.apps import apps
    from django.db.migrations.recorder import MigrationRecorder

    from medikeep.accounts.models import User

    # The test database is built without migrations; record two as a migrated one would.
    MigrationRecorder(connection).record_applied("adminops", "0001_activity_log")
    MigrationRecorder(connection).record_applied("adminops", "0002_backup")
    live = store_file(patient, b"%PDF-1.4 live file\n" * 100)
    trashed = store_file(patient, b"%PDF-1.4 in the trash\n", trashed=True)
    out = backup_dir / "full.tar"

    manifest = archive.write_backup("full", out)

    assert out.is_file() and not out.with_name("full.tar.partial").exists()
    assert manifest.archive["size"] == out.stat().st_size
    assert manifest.archive["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    with archive.open_archive(out) as opened:
        stored = opened.manifest
        assert not opened.encrypted
        names = [m.name for m in opened.iter_members()]
    assert stored == manifest
    assert stored.format_version == 1 and stored.backup_type == "full"
    assert stored.database["vendor"] == connection.vendor
    assert stored.migrations["adminops"] == ["0001_activity_log", "0002_backup"]
    assert names == [m.name for m in stored.members]
    assert names[:2] == [NATIVE, archive.PORTABLE]
    assert {f"files/{live.stored_name}", f"files/{trashed.stored_name}"} <= set(names)
    # Row counts are the database's, table by table; the backup list itself is left out.
    counts = stored.table_counts
    assert counts["accounts_user"] == User.objects.count() == 2
    assert counts["files_entityfile"] == 2
    assert "adminops_backup" not in counts
    for table, rows in counts.items():
        models = apps.get_models(include_auto_created=True)
        model = next(m for m in models if m._meta.db_table == table)
        assert model._base_manager.count() == rows, table

    members = _members(out)
    assert members[f"files/{live.stored_name}"] == b"%PDF-1.4 live file\n" * 100
    users = _portable_rows(members[archive.PORTABLE], "accounts_user")
    assert {row["username"] for row in users} == {"alice", "root"}
    # Values come back through the field's own to_python.
    created = User._meta.get_field("created_at").to_python(users[0]["created_at"])
    assert created == User.objects.get(pk=users[0]["id"]).created_at

    result = archive.verify(out)
    assert result.valid, result.errors
    assert result.members_checked == len(names)
    assert result.checks["native"].startswith("ok")
    assert result.checks["portable"].startswith("ok")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("local_files_storage")
def test_database_backup_has_no_files_and_a_files_backup_no_database(backup_dir, patient):
    store_file(patient, b"%PDF-1.4 x\n")
    database = archive.write_backup("database", backup_dir / "db.tar")
    files = archive.write_backup("files", backup_dir / "files.tar")
    assert [m.kind for m in database.members] == ["native-database", "portable-database"]
    assert files.database is None and files.tables == []
    assert [m.kind for m in files.members] == ["file"]
    assert archive.verify(backup_dir / "files.tar").valid


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump runs on PostgreSQL only")
def test_postgresql_native_dump_opens_with_pg_restore(backup_dir, patient):
    archive.write_backup("database", backup_dir / "db.tar")
    result = archive.verify(backup_dir / "db.tar")
    assert result.valid, result.errors
    assert result.checks["native"] == "ok (pg_restore --list)"


@pytest.mark.django_db
def test_a_backup_inside_a_transaction_is_refused(backup_dir):
    with pytest.raises(archive.ArchiveError, match="inside a database transaction"):
        archive.write_backup("database", backup_dir / "db.tar")
    assert not list(backup_dir.glob("*.tar*"))


@pytest.mark.django_db
@pytest.mark.usefixtures("files_storage")
def test_files_stream_through_storage_on_each_backend(backup_dir, patient):
    data = bytes(range(256)) * 5000
    entity_file = store_file(patient, data)
    out = backup_dir / "files.tar"
    archive.write_backup("files", out)
    assert _members(out) == {f"files/{entity_file.stored_name}": data}


@pytest.mark.django_db
@pytest.mark.usefixtures("local_files_storage")
def test_patient_photos_on_the_default_storage_are_backed_up(
    backup_dir, patient, settings, tmp_path
):
    from django.core.files.base import ContentFile

    from patients.models import PatientPhoto

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }
    photo = PatientPhoto(patient=patient, file_size=9, width=1, height=1)
    photo.file.save("face.jpg", ContentFile(b"\xff\xd8jpeg\xff\xd9"), save=False)
    photo.save()
    out = backup_dir / "files.tar"
    manifest = archive.write_backup("files", out)
    assert [m.kind for m in manifest.members] == ["media"]
    assert _members(out) == {f"media/{photo.file.name}": b"\xff\xd8jpeg\xff\xd9"}


@pytest.mark.django_db
@pytest.mark.usefixtures("local_files_storage")
def test_memory_stays_flat_with_a_50_mb_file(backup_dir, patient, tmp_path):
    from django.core.files import File

    from files import storage
    from files.models import EntityFile
    from records.tests.factories.medications import MedicationFactory

    size = 50 * 1024 * 1024
    source, digest = tmp_path / "big.bin", hashlib.sha256()
    with open(source, "wb") as handle:
        block = hashlib.sha512(b"seed").digest() * 16384  # 1 MiB
        for _ in range(size // len(block)):
            handle.write(block)
            digest.update(block)
    with open(source, "rb") as handle:
        key = storage.save("medication/big.bin", File(handle))
    EntityFile.objects.create(
        patient=patient,
        entity_type="medication",
        entity_id=MedicationFactory(patient=patient).pk,
        file_name="big.bin",
        stored_name=key,
        file_size=size,
        file_type="application/octet-stream",
        sha256=digest.hexdigest(),
    )
    out = backup_dir / "files.tar"

    tracemalloc.start()
    try:
        archive.write_backup("files", out)
        _, written_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = archive.verify(out)
        _, verify_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.valid, result.errors
    assert out.stat().st_size > size
    assert written_peak < 8 * 1024 * 1024, written_peak
    assert verify_peak < 8 * 1024 * 1024, verify_peak


@pytest.mark.django_db
@pytest.mark.usefixtures("local_files_storage")
def test_a_file_changed_in_storage_stops_the_backup(backup_dir, patient):
    from files import storage

    entity_file = store_file(patient, b"%PDF-1.4 original\n")
    path = storage.file_storage().path(entity_file.stored_name)
    with open(path, "wb") as handle:
        handle.write(b"%PDF-1.4 tampered\n")  # same size, other bytes

    with pytest.raises(archive.ArchiveIntegrityError, match=entity_file.stored_name):
        archive.write_backup("files", backup_dir / "files.tar")
    assert list(backup_dir.iterdir()) == []  # no archive, no partial file, no staging folder


@pytest.mark.django_db
@pytest.mark.usefixtures("local_files_storage")
def test_a_file_missing_from_storage_is_left_out_with_a_warning(backup_dir, patient):
    from files import storage

    kept = store_file(patient, b"%PDF-1.4 kept\n")
    gone = store_file(patient, b"%PDF-1.4 gone\n")
    storage.delete(gone.stored_name)
    manifest = archive.write_backup("files", backup_dir / "files.tar")
    assert [m.name for m in manifest.members] == [f"files/{kept.stored_name}"]
    assert any(gone.stored_name in warning for warning in manifest.warnings)


# --- tampered and hostile archives ----------------------------------------------------------


def _flip_byte_inside(path, member_name: str) -> None:
    with tarfile.open(path) as tar:
        offset = tar.getmember(member_name).offset_data
    with open(path, "r+b") as handle:
        handle.seek(offset + 3)
        byte = handle.read(1)
        handle.seek(offset + 3)
        handle.write(bytes([byte[0] ^ 0x01]))


@pytest.mark.django_db
@pytest.mark.usefixtures("local_files_storage")
def test_a_tampered_member_fails_verify_and_reading(backup_dir, patient):
    entity_file = store_file(patient, b"%PDF-1.4 precious scan\n" * 10)
    out = backup_dir / "files.tar"
    archive.write_backup("files", out)
    name = f"files/{entity_file.stored_name}"
    _flip_byte_inside(out, name)

    result = archive.verify(out)
    assert not result.valid
    assert any(name in error for error in result.errors)
    with archive.open_archive(out) as opened, pytest.raises(archive.ArchiveIntegrityError):
        for member in opened.iter_members():
            b"".join(member.chunks())


@pytest.mark.django_db(transaction=True)
def test_a_tampered_database_dump_fails_verify(backup_dir):
    out = backup_dir / "db.tar"
    archive.write_backup("database", out)
    _flip_byte_inside(out, archive.PORTABLE)
    result = archive.verify(out)
    assert not result.valid
    assert any(archive.PORTABLE in error for error in result.errors), result.errors


@pytest.mark.django_db
@pytest.mark.usefixtures("local_files_storage")
def test_a_truncated_archive_fails_verify(backup_dir, patient):
    store_file(patient, b"a" * 5000)
    store_file(patient, b"b" * 5000)
    out = backup_dir / "files.tar"
    archive.write_backup("files", out)
    with open(out, "r+b") as handle:
        handle.truncate(out.stat().st_size // 2)
    result = archive.verify(out)
    assert not result.valid and result.errors


def test_a_member_the_manifest_does_not_list_is_refused(tmp_path):
    manifest = {
        "format_version": 1,
        "backup_type": "files",
        "members": [],
        "tables": [],
    }
    path = craft_archive(tmp_path / "a.tar", [({"name": "files/extra"}, b"x")], manifest=manifest)
    result = archive.verify(path)
    assert not result.valid
    assert "not in the manifest" in result.errors[0]


def test_a_member_listed_but_absent_is_refused(tmp_path):
    manifest = {
        "format_version": 1,
        "backup_type": "files",
        "members": [{"name": "files/a", "size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}],
        "tables": [],
    }
    path = craft_archive(tmp_path / "a.tar", [], manifest=manifest)
    result = archive.verify(path)
    assert not result.valid and "missing" in result.errors[0]


@pytest.mark.parametrize(
    "name", ["../escape", "files/../../etc/passwd", "/etc/passwd", "files//x", "files/./x", "C:/x"]
)
def test_unsafe_member_names_are_refused(tmp_path, name):
    path = craft_archive(tmp_path / "a.tar", [({"name": name}, b"x")])
    with pytest.raises(archive.ArchiveFormatError, match="member name"):
        archive.open_archive(path)  # the manifest lists the name: refused before any member


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "files/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"},
        {"name": "files/hard", "type": tarfile.LNKTYPE, "linkname": "manifest.json"},
        {"name": "files/dev", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3},
        {"name": "files/fifo", "type": tarfile.FIFOTYPE},
        {"name": "files/dir", "type": tarfile.DIRTYPE},
    ],
    ids=["symlink", "hardlink", "device", "fifo", "directory"],
)
def test_links_devices_and_folders_are_refused(tmp_path, fields):
    path = craft_archive(tmp_path / "a.tar", [(fields, b"")])
    with (
        archive.open_archive(path) as opened,
        pytest.raises(archive.ArchiveFormatError, match="not a regular file"),
    ):
        list(opened.iter_members())


def test_an_archive_must_start_with_its_manifest(tmp_path):
    path = craft_archive(tmp_path / "a.tar", [({"name": "files/a"}, b"x")], manifest=False)
    with pytest.raises(archive.ArchiveFormatError, match="start with manifest.json"):
        archive.open_archive(path)


@pytest.mark.parametrize(
    "manifest",
    [
        {"format_version": 99, "backup_type": "full", "members": []},
        {"format_version": 1, "backup_type": "everything", "members": []},
        {"format_version": 1, "backup_type": "full", "members": [{"name": "files/a", "size": -1}]},
    ],
)
def test_a_bad_manifest_is_refused(tmp_path, manifest):
    path = craft_archive(tmp_path / "a.tar", [], manifest=manifest)
    with pytest.raises(archive.ArchiveFormatError):
        archive.open_archive(path)


def test_not_a_tar_at_all(tmp_path):
    path = tmp_path / "a.tar"
    path.write_bytes(json.dumps({"hello": "world"}).encode() * 100)
    result = archive.verify(path)
    assert not result.valid and "tar" in result.errors[0]
