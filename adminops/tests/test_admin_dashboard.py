"""/admin/dashboard: rights, and real figures (counts in one query, database size, uptime,
storage, the last backup, analytics from the activity log)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adminops import figures
from adminops.models import Backup, BackupStatus
from adminops.tests.factories import ActivityLogFactory
from files.models import EntityFile
from files.tests.s3server import s3_bucket, s3_client, s3_server, s3_storages  # noqa: F401
from patients.models import record_models
from patients.tests.factories import PatientFactory
from records.tests.factories import (
    LabResultFactory,
    MedicationFactory,
    PharmacyFactory,
    PractitionerFactory,
    VitalsFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/admin/dashboard"
ADMIN_PATHS = [
    "stats",
    "recent-activity",
    "system-health",
    "system-metrics",
    "storage-health",
    "analytics-data",
    "test-access",
]


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture(autouse=True)
def _tmp_directories(settings, tmp_path):
    """Backups, logs and entity files of these tests live under tmp_path."""
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.LOG_DIR = tmp_path / "logs"
    settings.BACKUP_DIR.mkdir()
    settings.LOG_DIR.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    (tmp_path / "files").mkdir()
    return tmp_path


# --- rights ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ADMIN_PATHS)
def test_admin_only(name, admin_api, alice_api, anon):
    assert admin_api.get(f"{BASE}/{name}").status_code == 200
    assert alice_api.get(f"{BASE}/{name}").status_code == 403
    assert anon.get(f"{BASE}/{name}").status_code == 401
    assert admin_api.get(f"{BASE}/{name}/").status_code == 200  # with the slash too


def test_health_check_is_public_and_touches_no_database(anon, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anon.get(f"{BASE}/health-check", HTTP_AUTHORIZATION="Bearer stale")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["service"] == "medical_records_api"
    assert body["uptime"] == f"{body['uptime_seconds']}s"
    started = datetime.fromisoformat(body["startup_time"])
    assert started <= timezone.now()


def test_test_access_names_the_admin(admin_api, admin_user):
    body = admin_api.get(f"{BASE}/test-access").json()
    assert body["message"] == "Admin access verified"
    assert (body["user"], body["role"]) == (admin_user.username, "admin")


# --- stats ---------------------------------------------------------------------------------------


def test_stats_counts_everything(admin_api, admin_user, alice, bob):
    patient = PatientFactory(owner=alice)
    PatientFactory(owner=bob)
    MedicationFactory(patient=patient, status="active")
    MedicationFactory(patient=patient, status="stopped")
    LabResultFactory(patient=patient, status="ordered")
    LabResultFactory(patient=patient, status="in-progress")
    LabResultFactory(patient=patient, status="completed")
    VitalsFactory(patient=patient)
    PractitionerFactory(
        created_by=admin_user,
        specialty__created_by=admin_user,
        practice__created_by=admin_user,
    )
    PharmacyFactory(created_by=admin_user)
    type(bob).objects.filter(pk=bob.pk).update(created_at=timezone.now() - timedelta(days=30))

    body = admin_api.get(f"{BASE}/stats").json()

    assert body["total_users"] == 3
    assert body["admin_count"] == body["total_admins"] == 1
    assert body["recent_registrations"] == 2  # bob signed up a month ago
    assert body["recent_registrations_days"] == 7
    assert body["total_patients"] == 2
    assert (body["total_medications"], body["active_medications"]) == (2, 1)
    assert (body["total_lab_results"], body["pending_lab_results"]) == (3, 2)
    assert body["total_vitals"] == 1
    assert (body["total_practitioners"], body["total_pharmacies"]) == (1, 1)
    assert body["total_conditions"] == 0
    assert body["total_records"] == 2 + 2 + 3 + 1  # patients and their records
    for model in record_models():  # every record type is counted, by the registry
        assert (model.dashboard_key or f"total_{model._meta.model_name}") in body


def test_all_counts_are_one_query(admin_user):
    PatientFactory()
    with CaptureQueriesContext(connection) as queries:
        counts = figures.record_counts()
    assert len(queries) == 1, [q["sql"][:200] for q in queries]
    assert "UNION ALL" in queries[0]["sql"]
    assert counts["total_patients"] == 1
    # One part per figure: every record type and its filtered counts are in that query.
    assert len(counts) == len(figures.record_count_keys())


# --- recent activity ---------------------------------------------------------------------------


def test_recent_activity_without_a_query_is_the_newest_twenty_of_every_kind(admin_api, alice):
    now = timezone.now()
    for minutes in range(25):
        ActivityLogFactory(user=alice, timestamp=now - timedelta(minutes=minutes + 1))
    ActivityLogFactory(user=None, action="backup_created", entity_type="backup", timestamp=now)

    rows = admin_api.get(f"{BASE}/recent-activity").json()

    assert len(rows) == 20
    newest = rows[0]
    assert (newest["action"], newest["model_name"], newest["user_info"]) == (
        "backup_created",
        "Backup",
        "system",
    )
    assert rows[1]["user_info"] == "alice" and rows[1]["model_name"] == "Medication"
    stamps = [row["timestamp"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert {"id", "description", "entity_type", "entity_id", "patient_id"} <= set(newest)


def test_recent_activity_filters(admin_api, alice):
    ActivityLogFactory(user=alice, action="created", entity_type="lab_result")
    ActivityLogFactory(user=alice, action="deleted", entity_type="lab_result")
    ActivityLogFactory(user=alice, action="deleted", entity_type="medication")

    def fetch(**query):
        return admin_api.get(f"{BASE}/recent-activity", query).json()

    assert len(fetch(limit=2)) == 2
    assert {row["action"] for row in fetch(action_filter="deleted")} == {"deleted"}
    assert len(fetch(action_filter="deleted")) == 2
    for spelling in ("lab_result", "LabResult", "lab-result"):
        assert len(fetch(entity_filter=spelling)) == 2
    assert len(fetch(action_filter="deleted", entity_filter="medication")) == 1
    assert fetch(action_filter="", entity_filter="") == fetch()


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": "lots"}, {"limit": 101}])
def test_recent_activity_refuses_bad_limits(admin_api, query):
    response = admin_api.get(f"{BASE}/recent-activity", query)
    assert response.status_code == 422
    assert "limit" in response.json()["errors"]


# --- system health and metrics -------------------------------------------------------------------


def test_system_health_reports_real_figures(admin_api, alice):
    MedicationFactory(patient=PatientFactory(owner=alice))
    body = admin_api.get(f"{BASE}/system-health").json()
    assert body["database_status"] == "healthy"
    assert body["database_connection_test"] is True
    assert body["total_records"] == 2
    assert body["last_backup"] is None
    size = figures.database_size_bytes()
    assert size and size > 0
    assert body["database_size_bytes"] == size
    assert body["disk_usage"] == f"Database: {size / 1024 / 1024:.1f} MB"
    assert body["uptime_seconds"] >= 0
    assert body["system_uptime"] == figures.humane_duration(body["uptime_seconds"])
    assert body["memory_usage"] in {"low", "normal", "high", "unknown"}


def test_last_backup_is_the_newest_usable_one(admin_api):
    now = timezone.now()

    def backup(status, hours_ago):
        return Backup.objects.create(
            backup_type="full",
            status=status,
            filename=f"{status}.tar",
            path=f"{status}.tar",
            completed_at=now - timedelta(hours=hours_ago),
        )

    backup(BackupStatus.COMPLETED, 30)
    verified = backup(BackupStatus.VERIFIED, 20)
    backup(BackupStatus.FAILED, 1)  # no archive
    backup(BackupStatus.UPLOADED, 2)  # came from elsewhere to be restored
    body = admin_api.get(f"{BASE}/system-health").json()
    assert datetime.fromisoformat(body["last_backup"]) == verified.completed_at


def test_sqlite_size_counts_the_write_ahead_log(tmp_path):
    database = tmp_path / "db.sqlite3"
    database.write_bytes(b"x" * 4096)
    assert figures.sqlite_file_bytes(database) == 4096
    Path(f"{database}-wal").write_bytes(b"y" * 1000)
    assert figures.sqlite_file_bytes(database) == 5096


def test_uptime_counts_from_the_process_start():
    """The kernel's start time of this process, as `ps` reports it (elapsed seconds)."""
    ps = subprocess.run(
        ["ps", "-o", "etimes=", "-p", str(os.getpid())], capture_output=True, text=True
    )
    if ps.returncode != 0:
        pytest.skip("ps is not available")
    assert abs(figures.uptime_seconds() - int(ps.stdout.strip())) <= 2


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 seconds"),
        (61, "1 minute, 1 second"),
        (3 * 3600 + 120, "3 hours, 2 minutes"),
        (5 * 86400 + 3 * 3600 + 59, "5 days, 3 hours"),
        (86400, "1 day"),
    ],
)
def test_humane_duration(seconds, text):
    assert figures.humane_duration(seconds) == text


def test_system_metrics_shape(admin_api):
    _entity_file("big.bin", 3 * 1024 * 1024)
    body = admin_api.get(f"{BASE}/system-metrics").json()
    services = body["services"]
    assert {name: s["status"] for name, s in services.items()} == {
        "api": "operational",
        "authentication": "operational",
        "frontend_logging": "operational",
        "admin_interface": "operational",
    }
    assert services["api"]["response_time_ms"] >= 0
    assert body["database"]["vendor"] == connection.vendor
    assert body["database"]["query_performance"] in {"fast", "slow"}
    assert body["application"]["memory_usage"] in {"low", "normal", "high", "unknown"}
    assert body["application"]["cpu_usage"] in {"low", "normal", "high", "unknown"}
    assert body["application"]["cpu_count"] >= 1
    assert body["storage"]["database_size"].endswith(" MB")
    assert body["storage"]["upload_directory_size"] == "3.0 MB"
    assert body["storage"]["available_space"].endswith(" GB free")
    assert body["security"]["ssl_enabled"] is False
    assert body["security"]["authentication_method"] == "JWT"
    secure = admin_api.get(f"{BASE}/system-metrics", secure=True).json()
    assert secure["security"]["ssl_enabled"] is True


def test_frontend_logging_is_down_when_its_directory_is(admin_api, settings, tmp_path):
    settings.LOG_DIR = tmp_path / "gone"
    body = admin_api.get(f"{BASE}/system-metrics").json()
    assert body["services"]["frontend_logging"]["status"] == "error"


@pytest.mark.parametrize(
    ("value", "word"), [(None, "unknown"), (10, "low"), (70, "normal"), (95, "high")]
)
def test_level_words(value, word):
    assert figures.level_word(value, low_below=60, normal_below=85) == word


# --- storage health -----------------------------------------------------------------------------


def _entity_file(name: str, size: int, trashed: bool = False) -> EntityFile:
    return EntityFile.objects.create(
        entity_type="medication",
        entity_id=1,
        file_name=name,
        stored_name=name,
        file_size=size,
        file_type="text/plain",
        sha256="0" * 64,
        trashed_at=timezone.now() if trashed else None,
    )


def test_storage_health_on_local_disk(admin_api, _tmp_directories):
    root = _tmp_directories
    (root / "files" / "a").mkdir()
    (root / "files" / "a" / "one.bin").write_bytes(b"1" * 3000)
    (root / "files" / "two.bin").write_bytes(b"2" * 1000)
    (root / "backups" / "full.tar").write_bytes(b"3" * 500)
    _entity_file("a/one.bin", 3000)
    _entity_file("two.bin", 1000, trashed=True)

    body = admin_api.get(f"{BASE}/storage-health").json()

    assert body["status"] == "healthy"
    uploads = body["directories"]["uploads"]
    assert uploads["backend"] == "local" and uploads["path"] == str(root / "files")
    assert (uploads["exists"], uploads["write_permission"]) == (True, True)
    assert (uploads["size_bytes"], uploads["file_count"]) == (4000, 2)
    backups = body["directories"]["backups"]
    assert (backups["size_bytes"], backups["file_count"]) == (500, 1)
    assert body["directories"]["logs"]["exists"] is True
    disk = body["disk_space"]
    assert 0 <= disk["usage_percent"] <= 100 and disk["total_gb"] > 0
    assert body["app_storage"] == {
        "total_files": 2,
        "total_mb": 0.0,
        "total_bytes": 4000,
        "trash_files": 1,
        "trash_mb": 0.0,
    }


def test_missing_backups_directory_is_a_warning(admin_api, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "nowhere"
    body = admin_api.get(f"{BASE}/storage-health").json()
    assert body["status"] == "warning"
    backups = body["directories"]["backups"]
    assert (backups["exists"], backups["write_permission"]) == (False, False)
    assert backups["error"] == "The directory does not exist."


def test_unusable_files_storage_is_an_error(admin_api, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "no-files-here"},
        },
    }
    body = admin_api.get(f"{BASE}/storage-health").json()
    assert body["status"] == "error"
    assert body["directories"]["uploads"]["exists"] is False


@pytest.fixture
def s3(request):
    """(endpoint, fresh bucket) of the files tests' loopback S3 server."""
    return request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")


def test_storage_health_on_s3_reports_the_bucket(admin_api, settings, s3):
    endpoint, bucket = s3
    settings.STORAGES = s3_storages(settings.STORAGES, endpoint, bucket, location="files")
    _entity_file("files/x.bin", 2048)

    body = admin_api.get(f"{BASE}/storage-health").json()

    uploads = body["directories"]["uploads"]
    assert body["status"] == "healthy"
    assert (uploads["backend"], uploads["bucket"], uploads["location"]) == (
        "s3",
        bucket,
        "files",
    )
    assert (uploads["exists"], uploads["write_permission"]) == (True, True)
    assert (uploads["size_bytes"], uploads["file_count"]) == (2048, 1)
    assert "path" not in uploads
    # The write probe leaves nothing behind.
    assert s3_client(endpoint).list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_storage_health_on_a_missing_bucket_is_an_error(admin_api, settings, s3):
    settings.STORAGES = s3_storages(settings.STORAGES, s3[0], "medikeep-test-no-such-bucket")
    body = admin_api.get(f"{BASE}/storage-health").json()
    uploads = body["directories"]["uploads"]
    assert body["status"] == "error"
    assert (uploads["exists"], uploads["write_permission"]) == (False, False)
    assert uploads["error"].startswith("The bucket cannot be used")


# --- analytics ----------------------------------------------------------------------------------


def at(day: str, hour: int = 12, zone=UTC) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=zone)


def test_analytics_for_a_date_range(admin_api, alice):
    ActivityLogFactory(user=alice, timestamp=at("2025-10-06", 9), entity_type="medication")
    ActivityLogFactory(user=alice, timestamp=at("2025-10-06", 9), entity_type="lab_result")
    ActivityLogFactory(user=alice, timestamp=at("2025-10-08", 23), entity_type="medication")
    ActivityLogFactory(user=alice, timestamp=at("2025-10-13"), entity_type="vitals")  # after
    ActivityLogFactory(user=alice, timestamp=at("2025-10-02"), entity_type="vitals")  # before

    body = admin_api.get(
        f"{BASE}/analytics-data",
        {"start_date": "2025-10-06", "end_date": "2025-10-12", "compare": "true"},
    ).json()

    weekly = body["weekly_activity"]
    assert weekly["labels"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert weekly["dates"][0] == "2025-10-06"
    assert weekly["data"] == [2, 0, 1, 0, 0, 0, 0]
    assert weekly["total"] == 3
    assert body["model_activity"] == {"medication": 2, "lab_result": 1}
    assert body["hourly_activity"]["labels"][9] == "09:00"
    assert body["hourly_activity"]["data"][9] == 2 and body["hourly_activity"]["data"][23] == 1
    assert sum(body["hourly_activity"]["data"]) == 3
    assert body["date_range"] == {"start": "2025-10-06", "end": "2025-10-12", "days": 7}
    assert body["comparison"] == {
        "current_total": 3,
        "previous_total": 1,
        "change_percent": 200.0,
        "previous_period": {"start": "2025-09-29", "end": "2025-10-05"},
    }


def test_analytics_default_is_the_last_seven_days_without_comparison(admin_api, alice):
    ActivityLogFactory(user=alice, timestamp=timezone.now())
    ActivityLogFactory(user=alice, timestamp=timezone.now() - timedelta(days=8))
    body = admin_api.get(f"{BASE}/analytics-data").json()
    assert body["date_range"]["days"] == 7
    assert body["date_range"]["end"] == timezone.localdate().isoformat()
    assert body["weekly_activity"]["data"][-1] == 1 and body["weekly_activity"]["total"] == 1
    assert "comparison" not in body


def test_analytics_over_thirty_days_labels_dates(admin_api):
    body = admin_api.get(f"{BASE}/analytics-data", {"days": 30, "compare": "true"}).json()
    labels = body["weekly_activity"]["labels"]
    assert len(labels) == 30 and labels[-1] == timezone.localdate().isoformat()
    assert body["comparison"]["change_percent"] == 0.0


def test_analytics_days_follow_the_facility_time_zone(admin_api, settings, alice):
    settings.TIME_ZONE = "America/New_York"
    # 02:00 UTC on the 7th is still the 6th, 22:00, in New York.
    ActivityLogFactory(user=alice, timestamp=at("2025-10-07", 2))
    body = admin_api.get(
        f"{BASE}/analytics-data", {"start_date": "2025-10-06", "end_date": "2025-10-07"}
    ).json()
    assert body["weekly_activity"]["data"] == [1, 0]
    assert body["hourly_activity"]["data"][22] == 1
    assert body["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": "week"}, "days"),
        ({"days": 367}, "days"),
        ({"start_date": "2025-10-06"}, "end_date"),
        ({"end_date": "2025-10-06"}, "start_date"),
        ({"start_date": "2025-10-06", "end_date": "2025-10-01"}, "end_date"),
        ({"start_date": "2024-01-01", "end_date": "2025-10-01"}, "end_date"),
        ({"start_date": "yesterday", "end_date": "2025-10-01"}, "start_date"),
        ({"compare": "maybe"}, "compare"),
    ],
)
def test_analytics_refuses_bad_input(admin_api, query, field):
    response = admin_api.get(f"{BASE}/analytics-data", query)
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_analytics_takes_empty_range_values_as_unset(admin_api):
    response = admin_api.get(f"{BASE}/analytics-data", {"start_date": "", "end_date": ""})
    assert response.status_code == 200
