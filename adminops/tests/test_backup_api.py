"""/admin/backup (and the web app's /admin/backups): who may call what, the contract's bodies,
bad input, and each operation's effect."""

from __future__ import annotations

import csv
import hashlib
import io
import os

import pytest
from django.utils import timezone

from adminops.models import ActivityLog, Backup, BackupStatus
from adminops.tests.backup_helpers import store_file, use_backup_dir
from files.tests.s3server import local_files_storage  # noqa: F401 - fixture found by name
from notifications.tests.event_helpers import make_channel, received, subscribe

pytestmark = pytest.mark.usefixtures("local_files_storage")

PREFIXES = ["/api/v1/admin/backup", "/api/v1/admin/backups"]
ENDPOINTS = [
    ("post", "/create-database"),
    ("post", "/create-files"),
    ("post", "/create-full"),
    ("get", "/"),
    ("get", "/export"),
    ("get", "/1/download"),
    ("post", "/1/verify"),
    ("delete", "/1"),
    ("post", "/cleanup"),
    ("post", "/cleanup-orphaned"),
    ("post", "/cleanup-all"),
    ("get", "/settings/retention"),
    ("post", "/settings/retention"),
    ("get", "/retention/stats"),
    ("get", "/settings/schedule"),
    ("post", "/settings/schedule"),
]
EVERY_PATH = [(m, prefix + p) for prefix in PREFIXES for m, p in ENDPOINTS] + [
    ("post", "/api/v1/system/backup")
]


@pytest.fixture
def backup_dir(settings, tmp_path):
    return use_backup_dir(settings, tmp_path)


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


def _row(backup_dir, *, name="backup_full_old.tar", data=b"archive", **fields) -> Backup:
    backup_dir.mkdir(parents=True, exist_ok=True)
    (backup_dir / name).write_bytes(data)
    fields.setdefault("status", BackupStatus.COMPLETED)
    fields.setdefault("backup_type", "full")
    return Backup.objects.create(
        filename=name,
        path=name,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        **fields,
    )


# --- who may call ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), EVERY_PATH)
def test_anonymous_is_401_and_a_user_is_403(anon, alice_api, backup_dir, method, url):
    assert getattr(anon, method)(url).status_code == 401
    assert getattr(alice_api, method)(url, {}, format="json").status_code == 403
    assert not Backup.objects.exists()


# --- create ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_create_database_answers_the_backup_object(admin_api, admin_user, backup_dir, prefix):
    channel = make_channel(admin_user)
    subscribe(admin_user, channel, "backup_completed")
    response = admin_api.post(f"{prefix}/create-database", {"description": "Weekly"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["backup_type"] == "database"
    assert body["status"] == "completed"
    assert body["description"] == "Weekly"
    assert body["size_bytes"] > 0 and body["file_exists"] is True
    assert body["filename"].startswith("backup_database_") and body["filename"].endswith(".tar")
    for key in ("id", "created_at", "sha256", "file_path"):
        assert body[key]
    backup = Backup.objects.get(pk=body["id"])
    assert backup.file_path.is_file()
    assert hashlib.sha256(backup.file_path.read_bytes()).hexdigest() == backup.sha256
    assert backup.created_by == admin_user
    assert backup.details["tables"]  # the manifest's summary is kept on the row
    assert received("backup_completed") == {"root": {"Phone"}}
    assert ActivityLog.objects.filter(action="backup_created", entity_id=backup.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_create_files_and_full_and_system_backup(admin_api, backup_dir, patient):
    store_file(patient, b"%PDF-1.4 scan\n")
    files = admin_api.post("/api/v1/admin/backups/create-files", {}, format="json").json()
    full = admin_api.post("/api/v1/admin/backup/create-full").json()
    system = admin_api.post("/api/v1/system/backup", {"description": "before upgrade"}).json()
    assert [files["backup_type"], full["backup_type"], system["backup_type"]] == [
        "files",
        "full",
        "full",
    ]
    assert system["description"] == "before upgrade"
    assert Backup.objects.filter(status=BackupStatus.COMPLETED).count() == 3


@pytest.mark.django_db
def test_create_refuses_a_description_that_is_too_long(admin_api, backup_dir):
    response = admin_api.post(
        "/api/v1/admin/backups/create-full", {"description": "x" * 1001}, format="json"
    )
    assert response.status_code == 422
    assert "description" in response.json()["errors"]
    assert not Backup.objects.exists()


@pytest.mark.django_db
def test_a_second_backup_while_one_runs_is_409(admin_api, backup_dir):
    running = Backup.objects.create(
        backup_type="full",
        filename="x.tar",
        path="x.tar",
        details={"writer": {"host": os.uname().nodename, "pid": os.getpid()}},
    )
    response = admin_api.post("/api/v1/admin/backups/create-full")
    assert response.status_code == 409
    assert f"id {running.pk}" in response.json()["error"]


@pytest.mark.django_db
def test_a_run_left_by_a_dead_process_does_not_block(admin_api, backup_dir):
    import socket

    stale = Backup.objects.create(
        backup_type="full",
        filename="x.tar",
        path="x.tar",
        details={"writer": {"host": socket.gethostname(), "pid": 2**22 + 12345}},
    )
    # Inside the test's transaction the new backup itself fails (500), but not with a 409.
    response = admin_api.post("/api/v1/admin/backups/create-full")
    assert response.status_code == 500
    stale.refresh_from_db()
    assert stale.status == BackupStatus.FAILED and "Interrupted" in stale.error


@pytest.mark.django_db(transaction=True)
def test_a_failed_backup_is_500_with_the_reason_and_tells_the_admins(
    admin_api, admin_user, backup_dir, patient
):
    from files import storage

    channel = make_channel(admin_user)
    subscribe(admin_user, channel, "backup_failed")
    entity_file = store_file(patient, b"%PDF-1.4 original\n")
    with open(storage.file_storage().path(entity_file.stored_name), "wb") as handle:
        handle.write(b"%PDF-1.4 damaged!\n")

    response = admin_api.post("/api/v1/admin/backups/create-files")
    assert response.status_code == 500
    assert "changed or is damaged" in response.json()["error"]
    failed = Backup.objects.get()
    assert failed.status == BackupStatus.FAILED and "damaged" in failed.error
    assert not failed.file_path.exists()
    assert list(backup_dir.iterdir()) == []
    assert received("backup_failed") == {"root": {"Phone"}}


# --- list, export, download -----------------------------------------------------------------


@pytest.mark.django_db
def test_list_answers_backups_with_file_exists_and_total(admin_api, backup_dir):
    present = _row(backup_dir, name="a.tar")
    gone = Backup.objects.create(backup_type="database", filename="b.tar", path="b.tar")
    body = admin_api.get("/api/v1/admin/backups/").json()
    assert body["total"] == 2
    by_id = {item["id"]: item for item in body["backups"]}
    assert by_id[present.pk]["file_exists"] is True
    assert by_id[present.pk]["file_path"] == str(backup_dir / "a.tar")
    assert by_id[gone.pk]["file_exists"] is False
    assert set(by_id[present.pk]) >= {
        "id",
        "backup_type",
        "filename",
        "size_bytes",
        "status",
        "created_at",
        "file_exists",
        "file_path",
    }


@pytest.mark.django_db
def test_export_is_csv_of_the_history(admin_api, backup_dir):
    _row(backup_dir, name="a.tar", description="Weekly, with a comma")
    response = admin_api.get("/api/v1/admin/backup/export", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["ID", "Backup Type", "Status", "Filename"]
    assert rows[1][3] == "a.tar" and "Weekly, with a comma" in rows[1]


@pytest.mark.django_db
def test_download_streams_the_archive(admin_api, backup_dir):
    backup = _row(backup_dir, name="a.tar", data=b"x" * 300_000)
    response = admin_api.get(
        f"/api/v1/admin/backups/{backup.pk}/download", HTTP_ACCEPT="application/octet-stream"
    )
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == b"x" * 300_000
    assert 'attachment; filename="a.tar"' in response["Content-Disposition"]
    assert ActivityLog.objects.filter(action="backup_downloaded").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("backup_id", ["999", str(2**64)])
def test_download_of_an_unknown_backup_is_404(admin_api, backup_dir, backup_id):
    assert admin_api.get(f"/api/v1/admin/backups/{backup_id}/download").status_code == 404


@pytest.mark.django_db
def test_download_of_a_missing_file_is_404(admin_api, backup_dir):
    backup = Backup.objects.create(backup_type="full", filename="gone.tar", path="gone.tar")
    response = admin_api.get(f"/api/v1/admin/backup/{backup.pk}/download")
    assert response.status_code == 404
    assert response.json()["status"] == "error"


# --- verify, delete -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_verify_checks_the_file_and_marks_the_backup(admin_api, backup_dir):
    created = admin_api.post("/api/v1/admin/backups/create-database").json()
    response = admin_api.post(f"/api/v1/admin/backups/{created['id']}/verify")
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True and body["backup_id"] == created["id"]
    details = body["verification_details"]
    assert details["checksum_matches"] and details["size_matches"]
    assert details["checks"]["native"].startswith("ok")
    assert Backup.objects.get(pk=created["id"]).status == BackupStatus.VERIFIED

    path = Backup.objects.get(pk=created["id"]).file_path
    with open(path, "r+b") as handle:
        handle.seek(2000)
        handle.write(b"\x00tampered\x00")
    body = admin_api.post(f"/api/v1/admin/backup/{created['id']}/verify").json()
    assert body["valid"] is False
    assert body["verification_details"]["checksum_matches"] is False
    backup = Backup.objects.get(pk=created["id"])
    assert backup.status == BackupStatus.FAILED and "Verification failed" in backup.error


@pytest.mark.django_db
def test_verify_of_a_missing_file_is_invalid_not_an_error(admin_api, backup_dir):
    backup = Backup.objects.create(
        backup_type="full", filename="gone.tar", path="gone.tar", status=BackupStatus.COMPLETED
    )
    body = admin_api.post(f"/api/v1/admin/backups/{backup.pk}/verify").json()
    assert body["valid"] is False
    assert body["verification_details"]["file_exists"] is False
    assert admin_api.post("/api/v1/admin/backups/424242/verify").status_code == 404


@pytest.mark.django_db
def test_delete_removes_the_row_and_the_file(admin_api, backup_dir):
    backup = _row(backup_dir, name="a.tar")
    response = admin_api.delete(f"/api/v1/admin/backups/{backup.pk}")
    assert response.status_code == 200
    assert response.json()["deleted_id"] == backup.pk and response.json()["file_deleted"]
    assert not Backup.objects.exists() and not (backup_dir / "a.tar").exists()
    assert admin_api.delete(f"/api/v1/admin/backups/{backup.pk}").status_code == 404


# --- cleanup --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cleanup_applies_the_retention_settings(admin_api, backup_dir, settings):
    settings.BACKUP_MIN_COUNT = 1
    settings.BACKUP_RETENTION_DAYS = 7
    old = _row(backup_dir, name="old.tar", created_at=timezone.now() - timezone.timedelta(days=30))
    new = _row(backup_dir, name="new.tar")
    body = admin_api.post("/api/v1/admin/backups/cleanup").json()
    assert body["total_deleted"] == 1
    assert [item["id"] for item in body["deleted_backups"]] == [old.pk]
    assert list(Backup.objects.values_list("pk", flat=True)) == [new.pk]
    assert not (backup_dir / "old.tar").exists()


@pytest.mark.django_db
def test_cleanup_orphaned_and_cleanup_all(admin_api, backup_dir, patient, settings):
    backup_dir.mkdir(parents=True)
    orphan = backup_dir / "backup_full_lost.tar"
    orphan.write_bytes(b"lost")
    hour_ago = timezone.now().timestamp() - 7200
    os.utime(orphan, (hour_ago, hour_ago))
    row_without_file = Backup.objects.create(
        backup_type="full", filename="gone.tar", path="gone.tar", status=BackupStatus.COMPLETED
    )
    body = admin_api.post("/api/v1/admin/backup/cleanup-orphaned").json()
    assert body["orphaned_files_deleted"] == 1 and body["orphaned_records_deleted"] == 1
    assert body["deleted_record_ids"] == [row_without_file.pk]
    assert not orphan.exists()

    settings.FILES_TRASH_RETENTION_DAYS = 7
    expired = store_file(patient, b"%PDF-1.4 old trash\n", trashed=True)
    type(expired).objects.filter(pk=expired.pk).update(
        trashed_at=timezone.now() - timezone.timedelta(days=8)
    )
    body = admin_api.post("/api/v1/admin/backups/cleanup-all").json()
    assert body["trash"]["deleted_count"] == 1
    assert body["total_files_cleaned"] == 1
    assert not type(expired).objects.filter(pk=expired.pk).exists()


@pytest.mark.django_db
def test_retention_stats_preview_what_a_cleanup_removes(admin_api, backup_dir, settings):
    settings.BACKUP_MIN_COUNT = 1
    settings.BACKUP_RETENTION_DAYS = 7
    old = _row(backup_dir, name="old.tar", created_at=timezone.now() - timezone.timedelta(days=30))
    _row(backup_dir, name="new.tar")
    body = admin_api.get("/api/v1/admin/backups/retention/stats").json()
    assert body["total_backups"] == 2
    assert body["would_delete_count"] == 1
    assert body["would_delete"][0]["id"] == old.pk
    assert body["would_free_bytes"] == len(b"archive")
    assert body["settings"]["backup_retention_days"] == 7
    assert Backup.objects.count() == 2  # only a preview


# --- settings -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_retention_settings_round_trip(admin_api, backup_dir, settings):
    from files.services import trash_retention_days
    from medikeep.accounts.selectors import registration_enabled

    settings.ALLOW_USER_REGISTRATION = True
    url = "/api/v1/admin/backups/settings/retention"
    before = admin_api.get(url).json()
    assert set(before) == {
        "backup_retention_days",
        "backup_min_count",
        "backup_max_count",
        "trash_retention_days",
        "allow_user_registration",
    }
    change = {
        "backup_retention_days": 45,
        "backup_min_count": 5,
        "backup_max_count": 20,
        "trash_retention_days": 14,
        "allow_user_registration": False,
    }
    response = admin_api.post(url, change, format="json")
    assert response.status_code == 200
    assert response.json()["current_settings"] == change
    assert admin_api.get("/api/v1/admin/backup/settings/retention").json() == change
    # The two settings other apps own now read the admins' values.
    assert trash_retention_days() == 14
    assert registration_enabled() is False
    assert ActivityLog.objects.filter(action="settings_updated").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"backup_retention_days": 0}, "backup_retention_days"),
        ({"backup_min_count": "many"}, "backup_min_count"),
        ({"trash_retention_days": -3}, "trash_retention_days"),
        ({"allow_user_registration": "perhaps"}, "allow_user_registration"),
        ({"backup_min_count": 30, "backup_max_count": 20}, "backup_min_count"),
    ],
)
def test_retention_settings_refuse_bad_values(admin_api, backup_dir, body, field):
    url = "/api/v1/admin/backups/settings/retention"
    before = admin_api.get(url).json()
    response = admin_api.post(url, body, format="json")
    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert admin_api.get(url).json() == before  # nothing was written


@pytest.mark.django_db
def test_schedule_get_and_set(admin_api, backup_dir, settings):
    settings.TIME_ZONE = "UTC"
    url = "/api/v1/admin/backups/settings/schedule"
    assert admin_api.get(url).json()["enabled"] is False
    response = admin_api.post(
        url, {"preset": "weekly", "time_of_day": "03:30", "day_of_week": "mon"}, format="json"
    )
    assert response.status_code == 200
    schedule = response.json()["schedule"]
    assert schedule["enabled"] is True and schedule["preset"] == "weekly"
    assert schedule["day_of_week"] == "mon" and schedule["time_of_day"] == "03:30"
    next_run = timezone.datetime.fromisoformat(schedule["next_run_at"].replace("Z", "+00:00"))
    assert next_run.weekday() == 0 and (next_run.hour, next_run.minute) == (3, 30)
    assert admin_api.get("/api/v1/admin/backup/settings/schedule").json()["preset"] == "weekly"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preset": "hourly"}, "preset"),
        ({"preset": "daily", "time_of_day": "25:00"}, "time_of_day"),
        ({"preset": "daily", "time_of_day": "noon"}, "time_of_day"),
        ({"preset": "weekly", "day_of_week": "someday"}, "day_of_week"),
    ],
)
def test_schedule_refuses_bad_values(admin_api, backup_dir, body, field):
    response = admin_api.post("/api/v1/admin/backups/settings/schedule", body, format="json")
    assert response.status_code == 422
    assert field in response.json()["errors"]
