"""Retention of backups (min, max, days), orphans, and the settings behind them."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from adminops.backups import retention
from adminops.models import Backup, BackupStatus
from adminops.tests.backup_helpers import store_file, use_backup_dir
from files.tests.s3server import local_files_storage  # noqa: F401 - fixture found by name
from medikeep.accounts.models import SystemSetting

pytestmark = pytest.mark.django_db


@pytest.fixture
def backup_dir(settings, tmp_path):
    directory = use_backup_dir(settings, tmp_path)
    directory.mkdir(parents=True)
    settings.BACKUP_RETENTION_DAYS = 7
    settings.BACKUP_MIN_COUNT = 2
    settings.BACKUP_MAX_COUNT = 4
    return directory


def _backup(backup_dir, days_old: float, *, status=BackupStatus.COMPLETED, path=None) -> Backup:
    name = f"backup_full_{days_old}_{status}.tar"
    if path is None and status != BackupStatus.FAILED:
        (backup_dir / name).write_bytes(b"x" * 10)
    return Backup.objects.create(
        backup_type="full",
        status=status,
        filename=name,
        path=path or name,
        size_bytes=10,
        sha256=hashlib.sha256(b"x" * 10).hexdigest(),
        created_at=timezone.now() - timedelta(days=days_old),
    )


def _doomed() -> list[int]:
    return sorted(backup.pk for backup, _ in retention.retention_plan().delete)


def test_the_newest_min_count_stay_whatever_their_age(backup_dir):
    newest, second, third = (_backup(backup_dir, days) for days in (30, 40, 50))
    assert _doomed() == [third.pk]
    retention.backup_cleanup()
    assert set(Backup.objects.values_list("pk", flat=True)) == {newest.pk, second.pk}
    assert not (backup_dir / third.filename).exists()
    assert (backup_dir / newest.filename).exists()


def test_young_backups_beyond_max_count_go(backup_dir):
    backups = [_backup(backup_dir, hours / 24) for hours in range(1, 7)]  # six, all young
    assert _doomed() == sorted(b.pk for b in backups[4:])  # the two oldest of six


def test_backups_older_than_the_retention_go_once_min_count_is_kept(backup_dir):
    keep = [_backup(backup_dir, 1), _backup(backup_dir, 2), _backup(backup_dir, 3)]
    old = _backup(backup_dir, 8)
    assert _doomed() == [old.pk]
    assert keep  # three young ones stay: within the days and under max_count


def test_failed_rows_go_after_the_retention_and_running_ones_never(backup_dir):
    _backup(backup_dir, 1)
    _backup(backup_dir, 2)
    old_failure = _backup(backup_dir, 10, status=BackupStatus.FAILED)
    _backup(backup_dir, 1, status=BackupStatus.FAILED)
    _backup(backup_dir, 10, status=BackupStatus.CREATED)
    # Failed rows do not count as backups kept for min_count.
    assert _doomed() == [old_failure.pk]


def test_archives_written_outside_backup_dir_are_never_touched(backup_dir, tmp_path):
    outside = tmp_path / "usb" / "mine.tar"
    outside.parent.mkdir()
    outside.write_bytes(b"x")
    _backup(backup_dir, 1)
    _backup(backup_dir, 2)
    theirs = _backup(backup_dir, 300, path=str(outside))
    assert theirs.pk not in _doomed()
    retention.backup_cleanup_orphaned()
    assert outside.exists() and Backup.objects.filter(pk=theirs.pk).exists()


def _age(path, hours: float) -> None:
    moment = timezone.now().timestamp() - hours * 3600
    os.utime(path, (moment, moment))


def test_orphans_are_old_archive_files_and_rows_without_files(backup_dir):
    kept = _backup(backup_dir, 1)
    old_orphan = backup_dir / "backup_files_2026.tar.age"
    fresh_orphan = backup_dir / "uploading.tar.partial"  # maybe still being written
    foreign = backup_dir / "notes.txt"  # not ours to delete
    scratch = backup_dir / ".staging-abc"
    for path in (old_orphan, fresh_orphan, foreign):
        path.write_bytes(b"y")
    scratch.mkdir()
    (scratch / "portable.jsonl").write_bytes(b"{}")
    target = backup_dir / "target.tar"
    target.write_bytes(b"z")
    link = backup_dir / "link.tar"
    link.symlink_to(target)
    for path in (old_orphan, foreign, scratch, target):
        _age(path, 2)
    _age(fresh_orphan, 0.2)
    gone = Backup.objects.create(
        backup_type="full", filename="g.tar", path="g.tar", status=BackupStatus.VERIFIED
    )
    failed = Backup.objects.create(
        backup_type="full", filename="f.tar", path="f.tar", status=BackupStatus.FAILED
    )

    stats = retention.retention_stats()
    assert stats["orphaned_files"] == 3 and stats["orphaned_records"] == 1
    result = retention.backup_cleanup_orphaned()

    assert sorted(result["deleted_files"]) == [
        ".staging-abc",
        "backup_files_2026.tar.age",
        "target.tar",
    ]
    assert result["deleted_record_ids"] == [gone.pk]
    assert not old_orphan.exists() and not scratch.exists()
    assert fresh_orphan.exists() and foreign.exists() and link.is_symlink()
    assert (backup_dir / kept.filename).exists()
    assert set(Backup.objects.values_list("pk", flat=True)) == {kept.pk, failed.pk}


def test_settings_come_from_env_defaults_then_admin_values(backup_dir, settings):
    assert retention.retention_settings()["backup_min_count"] == 2
    SystemSetting.objects.create(key="backup_min_count", value=3)
    SystemSetting.objects.create(key="backup_max_count", value="lots")  # not a number: ignored
    values = retention.retention_settings()
    assert values["backup_min_count"] == 3 and values["backup_max_count"] == 4


@pytest.mark.usefixtures("local_files_storage")
def test_trash_purge_follows_the_admins_trash_retention(backup_dir, patient, settings):
    from files.services import purge_expired_trash

    settings.FILES_TRASH_RETENTION_DAYS = 30
    trashed = store_file(patient, b"%PDF-1.4 t\n", trashed=True)
    type(trashed).objects.filter(pk=trashed.pk).update(
        trashed_at=timezone.now() - timedelta(days=10)
    )
    assert purge_expired_trash() == 0  # 10 days < 30
    retention.retention_settings_update(changes={"trash_retention_days": 7})
    assert purge_expired_trash() == 1  # the admins said 7
