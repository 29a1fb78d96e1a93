"""/admin/restore and /system/restore: personas, upload checks, preview, tokens, execute."""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import timedelta

import pytest
from django.utils import timezone

from adminops.backups.services import backup_create
from adminops.models import ActivityLog, Backup, BackupStatus, RestoreToken
from adminops.tests.backup_helpers import craft_archive
from adminops.tests.restore_helpers import seed, stored_files, table_hashes, use_storage_dirs

BASE = "/api/v1/admin/restore"


@pytest.fixture(autouse=True)
def dirs(settings, tmp_path):
    return use_storage_dirs(settings, tmp_path)


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def database_backup(db):
    return Backup.objects.create(
        backup_type="database", status=BackupStatus.COMPLETED, filename="x.tar", path="x.tar"
    )


def _upload(client, data: bytes, name: str = "backup.tar"):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(f"{BASE}/upload", {"file": upload}, format="multipart")


def _leftovers(backup_dir) -> list[str]:
    if not backup_dir.exists():
        return []
    return sorted(p.name for p in backup_dir.iterdir() if p.name.startswith(".upload-"))


# --- personas -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", f"{BASE}/upload"),
        ("post", f"{BASE}/preview/1"),
        ("get", f"{BASE}/confirmation-token/1"),
        ("post", f"{BASE}/execute/1"),
        ("post", "/api/v1/system/restore"),
    ],
)
def test_anonymous_is_401_and_a_user_403(anon, alice_api, method, url, database_backup):
    assert getattr(anon, method)(url).status_code == 401
    response = getattr(alice_api, method)(url)
    assert response.status_code == 403
    assert response.json()["error"] == "Admin access required."
    assert not RestoreToken.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", f"{BASE}/preview/999"),
        ("get", f"{BASE}/confirmation-token/999"),
        ("post", f"{BASE}/preview/99999999999999999999"),
    ],
)
def test_unknown_backups_are_404(admin_api, method, url):
    response = getattr(admin_api, method)(url)
    assert response.status_code == 404
    assert response.json()["error"] == "Backup not found."


# --- upload ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_upload_keeps_a_checked_archive_as_an_uploaded_backup(admin_api, settings):
    seed("a")
    made = backup_create(backup_type="full")
    data = made.file_path.read_bytes()

    response = _upload(admin_api, data, name="../../family backup.tar")

    assert response.status_code == 200, response.json()
    body = response.json()
    backup = Backup.objects.get(pk=body["backup_id"])
    assert body["success"] is True and body["backup_type"] == "full"
    assert body["backup_size"] == len(data) == backup.size_bytes
    assert backup.status == BackupStatus.UPLOADED
    assert backup.sha256 == hashlib.sha256(data).hexdigest()
    assert backup.filename.startswith("uploaded_full_") and "/" not in backup.path
    assert backup.file_path.parent == settings.BACKUP_DIR
    assert backup.file_path.read_bytes() == data
    assert backup.description == "Uploaded backup (family backup.tar)"
    assert backup.created_by.username == "root"
    assert _leftovers(settings.BACKUP_DIR) == []
    assert ActivityLog.objects.filter(action="backup_uploaded", entity_id=backup.pk).exists()


def _refused(client, data, settings, *, fragment: str):
    before, kept = Backup.objects.count(), sorted(settings.BACKUP_DIR.iterdir())
    response = _upload(client, data)
    assert response.status_code == 422, response.json()
    body = response.json()
    assert list(body["errors"]) == ["file"]
    assert fragment in body["error"], body["error"]
    assert Backup.objects.count() == before
    assert sorted(settings.BACKUP_DIR.iterdir()) == kept  # nothing kept, no partial upload


def _tar(tmp_path, members, **kwargs) -> bytes:
    return craft_archive(tmp_path / "crafted.tar", members, **kwargs).read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["../x", "/etc/x", "files/../../x", "files/./x", "media//x", "files/a\\..\\b"]
)
def test_upload_refuses_names_leaving_their_folder(admin_api, settings, tmp_path, name):
    _refused(admin_api, _tar(tmp_path, [({"name": name}, b"x")]), settings, fragment=name[:4])


@pytest.mark.django_db
def test_upload_refuses_an_unsafe_name_the_manifest_does_not_list(admin_api, settings, tmp_path):
    crafted = _tar(
        tmp_path, [({"name": "files/../../escape"}, b"x")], manifest=_manifest(members=[])
    )
    _refused(admin_api, crafted, settings, fragment="unsafe member name")


def _manifest(**fields) -> dict:
    return {
        "format_version": 1,
        "app_version": "test",
        "created_at": "2026-01-01T00:00:00Z",
        "backup_type": "files",
        "database": None,
        "migrations": {},
        "tables": [],
        "members": [],
        "warnings": [],
        **fields,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"name": "files/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"},
        {"name": "files/hard", "type": tarfile.LNKTYPE, "linkname": "manifest.json"},
        {"name": "files/dev", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3},
        {"name": "files/blk", "type": tarfile.BLKTYPE, "devmajor": 8, "devminor": 0},
        {"name": "files/fifo", "type": tarfile.FIFOTYPE},
    ],
    ids=["symlink", "hardlink", "char-device", "block-device", "fifo"],
)
def test_upload_refuses_links_and_devices(admin_api, settings, tmp_path, fields):
    _refused(admin_api, _tar(tmp_path, [(fields, b"")]), settings, fragment="not a regular file")


@pytest.mark.django_db(transaction=True)
def test_upload_refuses_a_tampered_archive(admin_api, settings):
    seed("a")
    data = bytearray(backup_create(backup_type="full").file_path.read_bytes())
    position = data.rindex(b"%PDF-1.4 live a")
    data[position] ^= 0xFF  # one byte of a stored file, after the manifest listed its SHA-256
    _refused(admin_api, bytes(data), settings, fragment="do not match the manifest")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"PK\x03\x04 a zip file of the reference", "not a readable tar"),
        (b"-- PostgreSQL database dump\nCREATE TABLE x ();\n", "not a readable tar"),
    ],
    ids=["reference-zip", "reference-sql"],
)
def test_upload_refuses_other_formats(admin_api, settings, data, fragment):
    _refused(admin_api, data, settings, fragment=fragment)


@pytest.mark.django_db
def test_upload_refuses_a_member_size_the_manifest_does_not_say(admin_api, settings, tmp_path):
    entry = {"name": "files/a", "size": 5, "sha256": hashlib.sha256(b"x").hexdigest()}
    crafted = _tar(tmp_path, [({"name": "files/a"}, b"x")], manifest=_manifest(members=[entry]))
    _refused(admin_api, crafted, settings, fragment="the manifest says 5")


@pytest.mark.django_db
def test_upload_over_the_limit_is_413_and_leaves_nothing(admin_api, settings, tmp_path):
    settings.RESTORE_MAX_UPLOAD_BYTES = 100 * 1024
    data = _tar(tmp_path, [({"name": "files/big"}, b"x" * 300 * 1024)])
    response = _upload(admin_api, data)
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert _leftovers(settings.BACKUP_DIR) == [] and not Backup.objects.exists()


@pytest.mark.django_db
def test_upload_streamed_past_the_limit_is_413(admin_api, settings, tmp_path):
    # The declared length passes (small limit plus the multipart slack); the stream does not.
    settings.RESTORE_MAX_UPLOAD_BYTES = 1000
    response = _upload(admin_api, b"x" * 2000)
    assert response.status_code == 413
    assert _leftovers(settings.BACKUP_DIR) == []


@pytest.mark.django_db
def test_upload_without_a_file(admin_api):
    response = admin_api.post(f"{BASE}/upload", {"other": "x"}, format="multipart")
    assert response.status_code == 422
    assert response.json()["errors"] == {"file": ["A backup archive is required (field 'file')."]}
    assert admin_api.post(f"{BASE}/upload", {}, format="json").status_code == 415
    assert _upload(admin_api, b"").status_code in (422,)


# --- preview and tokens ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_preview_says_what_a_restore_replaces(admin_api):
    seed("a")
    backup = backup_create(backup_type="full", description="before the move")

    response = admin_api.post(f"{BASE}/preview/{backup.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["backup_id"] == backup.pk and body["backup_type"] == "full"
    assert body["backup_description"] == "before the move"
    assert body["backup_size"] == backup.size_bytes
    assert body["backup_created"] == backup.details["created_at"]
    assert body["compatible"] is True and body["problems"] == []
    assert body["warnings"][0] == "This will replace all current data"
    assert body["affected_data"]["accounts_user"] == 4  # root and the three seeded users
    assert body["affected_data"]["files_entityfile"] == 2
    assert "adminops_backup" not in body["affected_data"]
    assert "django_session" not in body["affected_data"]
    assert body["files_count"] == 3


@pytest.mark.django_db
def test_preview_and_token_refuse_a_backup_from_another_schema(admin_api, settings, tmp_path):
    crafted = craft_archive(
        settings.BACKUP_DIR / "newer.tar",
        [({"name": "database/portable.jsonl"}, b"")],
        manifest=_manifest(
            backup_type="database",
            database={"vendor": "sqlite", "excluded_tables": []},
            migrations={"adminops": ["0001_activity_log", "0099_from_the_future"]},
            members=[
                {
                    "name": "database/portable.jsonl",
                    "size": 0,
                    "sha256": hashlib.sha256(b"").hexdigest(),
                }
            ],
        ),
    )
    backup = Backup.objects.create(
        backup_type="database", status=BackupStatus.UPLOADED, filename="newer.tar", path="newer.tar"
    )
    assert crafted.is_file()

    body = admin_api.post(f"{BASE}/preview/{backup.pk}").json()
    assert body["compatible"] is False
    assert "made by a newer version" in body["problems"][0]
    assert "0099_from_the_future" in body["problems"][0]
    response = admin_api.get(f"{BASE}/confirmation-token/{backup.pk}")
    assert response.status_code == 409
    assert "cannot be restored" in response.json()["error"]
    assert not RestoreToken.objects.exists()


@pytest.mark.django_db
def test_a_backup_without_its_file_cannot_be_restored(admin_api, database_backup):
    body = admin_api.post(f"{BASE}/preview/{database_backup.pk}").json()
    assert body["compatible"] is False
    assert body["problems"] == ["The backup file does not exist."]
    assert admin_api.get(f"{BASE}/confirmation-token/{database_backup.pk}").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_token_is_random_stored_hashed_and_expires_in_15_minutes(admin_api, admin_user):
    backup = backup_create(backup_type="database")
    first = admin_api.get(f"{BASE}/confirmation-token/{backup.pk}").json()
    second = admin_api.get(f"{BASE}/confirmation-token/{backup.pk}").json()

    assert first["backup_id"] == backup.pk and first["warning"]
    assert first["confirmation_token"] != second["confirmation_token"]
    assert len(first["confirmation_token"]) >= 40
    row = RestoreToken.objects.get(
        token_hash=hashlib.sha256(first["confirmation_token"].encode()).hexdigest()
    )
    assert row.user == admin_user and row.backup == backup and row.used_at is None
    assert not RestoreToken.objects.filter(token_hash=first["confirmation_token"]).exists()
    left = row.expires_at - timezone.now()
    assert timedelta(minutes=14) < left <= timedelta(minutes=15)
    assert first["expires_in_seconds"] == 900


# --- execute --------------------------------------------------------------------------------


def _token(client, backup) -> str:
    response = client.get(f"{BASE}/confirmation-token/{backup.pk}")
    assert response.status_code == 200, response.json()
    return response.json()["confirmation_token"]


@pytest.mark.django_db(transaction=True)
def test_preview_token_execute_restores_and_answers_the_contract(admin_api, admin_user):
    seed("a")
    rows, files = table_hashes(), stored_files()
    backup = backup_create(backup_type="full")
    seed("b")
    admin_api.post(f"{BASE}/preview/{backup.pk}")
    token = _token(admin_api, backup)

    response = admin_api.post(f"{BASE}/execute/{backup.pk}", {"confirmation_token": token})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True and body["message"] == "Restore completed successfully"
    assert body["backup_id"] == backup.pk and body["backup_type"] == "full"
    assert Backup.objects.get(pk=body["safety_backup_id"]).backup_type == "full"
    assert body["restore_completed"].endswith("Z") and body["warnings"] is None
    assert table_hashes() == rows and stored_files() == files
    # The operator was in the backup: the log names them.
    done = ActivityLog.objects.get(action="restore_completed")
    assert (
        done.user_id == admin_user.pk
        and done.metadata["safety_backup_id"] == body["safety_backup_id"]
    )
    # The token was spent.
    again = admin_api.post(f"{BASE}/execute/{backup.pk}", {"confirmation_token": token})
    assert again.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_tokens_are_single_use_bound_and_short_lived(admin_api, client_for, admin_user):
    from medikeep.accounts.models import User
    from medikeep.accounts.tests.factories import AdminFactory

    backup = backup_create(backup_type="database")
    other_backup = backup_create(backup_type="database")
    sentinel = AdminFactory(username="sentinel")  # a restore of `backup` would remove it
    url = f"{BASE}/execute/{backup.pk}"

    def attempt(client, token, *, at=url):
        return client.post(at, {"confirmation_token": token}, format="json")

    wrong = attempt(admin_api, "not-a-token")
    assert wrong.status_code == 400 and "not valid" in wrong.json()["error"]
    missing = admin_api.post(url, {}, format="json")
    assert missing.status_code == 422 and list(missing.json()["errors"]) == ["confirmation_token"]

    other_admin = client_for(AdminFactory(username="other"))
    theirs = _token(other_admin, backup)
    refused = attempt(admin_api, theirs)
    assert refused.status_code == 403 and "another administrator" in refused.json()["error"]

    for_other = _token(admin_api, other_backup)
    mismatch = attempt(admin_api, for_other)
    assert mismatch.status_code == 400
    assert f"for backup {other_backup.pk}" in mismatch.json()["error"]

    expired = _token(admin_api, backup)
    RestoreToken.objects.filter(user=admin_user, backup=backup).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    late = attempt(admin_api, expired)
    assert late.status_code == 400 and "expired" in late.json()["error"]

    # None of these restored anything, nor took a safety backup.
    assert User.objects.filter(pk=sentinel.pk).exists()
    assert Backup.objects.count() == 2

    good = _token(admin_api, backup)
    assert attempt(admin_api, good).status_code == 200
    used = attempt(admin_api, good)
    assert used.status_code == 400 and "already used" in used.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_system_restore_takes_the_backup_id_in_the_body(admin_api):
    seed("a")
    backup = backup_create(backup_type="database")
    url = "/api/v1/system/restore"
    response = admin_api.post(url, {"confirmation_token": "x"}, format="json")
    assert response.status_code == 422 and "backup_id" in response.json()["errors"]
    response = admin_api.post(url, {"backup_id": 999, "confirmation_token": "x"}, format="json")
    assert response.status_code == 404
    token = _token(admin_api, backup)
    body = {"backup_id": backup.pk, "confirmation_token": token}
    response = admin_api.post(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["backup_type"] == "database"
