"""Backup -> restore round trips on this run's database (SQLite, or PostgreSQL when
DATABASE_URL says so): identical rows table by table, identical files."""

from __future__ import annotations

import pytest

from adminops.backups import restore
from adminops.backups.services import backup_create
from adminops.models import Backup, RestoreToken
from adminops.tests.restore_helpers import (
    empty_storage,
    flush_database,
    seed,
    stored_files,
    table_hashes,
    use_storage_dirs,
)
from files.tests.s3server import (  # noqa: F401 - fixtures found by name
    s3_bucket,
    s3_files_storage,
    s3_server,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dirs(settings, tmp_path):
    return use_storage_dirs(settings, tmp_path)


def test_full_backup_restores_into_an_emptied_database(dirs):
    seeded = seed("a")
    rows, files = table_hashes(), stored_files()
    assert rows["files_entityfile"][0] == 2 and rows["records_conditionmedication"][0] == 2
    assert len(files) == 3  # two entity files and the photo
    backup = backup_create(backup_type="full", description="round trip")

    flush_database()
    empty_storage()
    assert table_hashes()["patients_patient"][0] == 0 and stored_files() == {}

    answer = restore.restore_backup(Backup.objects.get(pk=backup.pk))

    assert table_hashes() == rows
    assert stored_files() == files
    assert answer["success"] is True and answer["backup_id"] == backup.pk
    assert answer["backup_type"] == "full"
    assert answer["files"]["written"] == 3
    safety = Backup.objects.get(pk=answer["safety_backup_id"])
    assert safety.backup_type == "full" and safety.status == "completed"
    # Ids go on past the restored rows: a new row does not take a restored one's id.
    from patients.tests.factories import PatientFactory

    assert PatientFactory(owner=seeded["owner"]).pk > seeded["patient"].pk


def test_restore_replaces_newer_data_and_files_with_the_backup(dirs):
    from files import storage

    gone = seed("a")["files"][0]
    rows, files = table_hashes(), stored_files()
    backup = backup_create(backup_type="full")
    newest = seed("b")["patient"]  # more users, records, files and a photo after the backup
    storage.delete(gone.stored_name)  # and a file of the backup deleted for good
    gone.delete()
    assert table_hashes() != rows and stored_files() != files

    answer = restore.restore_backup(backup)

    assert table_hashes() == rows
    assert stored_files() == files  # files added since are gone, the deleted one is back
    assert answer["files"] == {
        "written": 1,
        "unchanged": 2,
        "repaired": 0,
        "skipped": 0,
        "deleted": 3,
    }
    # Ids never go back: "b"'s patient id is not handed out again.
    from patients.tests.factories import PatientFactory

    assert PatientFactory().pk > newest.pk
    # The safety backup holds what was replaced: restoring it brings "b" back.
    safety = Backup.objects.get(pk=answer["safety_backup_id"])
    restore.restore_backup(safety)
    from medikeep.accounts.models import User

    assert User.objects.filter(username="owner-b").exists()


def test_database_restore_leaves_files_alone(dirs):
    seed("a")
    rows = table_hashes()
    backup = backup_create(backup_type="database")
    seed("b")
    files = stored_files()

    answer = restore.restore_backup(backup)

    assert table_hashes() == rows
    assert stored_files() == files  # "b"'s files stay (unused), none deleted
    assert answer["backup_type"] == "database"


def test_files_restore_puts_back_missing_and_damaged_files_only(dirs):
    seeded = seed("a")
    files = stored_files()
    backup = backup_create(backup_type="files")
    rows = table_hashes()
    live, trashed = seeded["files"]
    from files import storage

    storage.delete(trashed.stored_name)  # missing
    with open(storage.file_storage().path(live.stored_name), "wb") as handle:
        handle.write(b"damaged")  # bytes no longer match the row's SHA-256

    answer = restore.restore_backup(backup)

    assert stored_files() == files
    assert table_hashes() == rows  # the database is not touched
    assert answer["files"]["written"] == 1 and answer["files"]["repaired"] == 1


def test_restore_keeps_the_backup_list_and_ends_pending_confirmations(dirs):
    from medikeep.accounts.tests.factories import AdminFactory

    seed("a")
    backup = backup_create(backup_type="full")
    admin = AdminFactory(username="later-admin")  # not in the backup
    later = backup_create(backup_type="database", user=admin)
    from medikeep.accounts.models import User

    restore.issue_token(backup, User.objects.get(username="admin-a"))  # in the backup too
    token = restore.issue_token(backup, admin)["confirmation_token"]

    answer = restore.execute(backup, token, admin)

    ids = set(Backup.objects.values_list("id", flat=True))
    assert ids == {backup.pk, later.pk, answer["safety_backup_id"]}
    # The admin is not among the backup's users: the rows that named them now name nobody.
    assert Backup.objects.get(pk=later.pk).created_by_id is None
    assert not RestoreToken.objects.exists()


def _s3_files() -> dict[str, str]:
    import hashlib

    from files import storage

    return {
        key: hashlib.sha256(b"".join(storage.stream(key))).hexdigest()
        for key in storage.all_names()
    }


@pytest.mark.usefixtures("s3_files_storage")
def test_round_trip_with_entity_files_on_s3(dirs):
    from files import storage

    gone = seed("a")["files"][0]
    rows, files = table_hashes(), _s3_files()
    assert len(files) == 2
    backup = backup_create(backup_type="full")
    seed("b")
    storage.delete(gone.stored_name)

    answer = restore.restore_backup(backup)

    assert table_hashes() == rows
    assert _s3_files() == files
    assert answer["files"]["written"] == 1 and answer["files"]["deleted"] == 3


def test_a_backup_without_an_admin_restores_with_a_warning(dirs, alice):
    backup = backup_create(backup_type="database")
    from medikeep.accounts.tests.factories import AdminFactory

    AdminFactory(username="after")

    answer = restore.restore_backup(backup)

    assert any("no active admin account" in w for w in answer["warnings"])
