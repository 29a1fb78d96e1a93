"""Retention: the admins' settings, which backups a cleanup removes, orphans, and the trash.

The rule (retention_plan): among the usable backups kept in BACKUP_DIR, newest first,
- the newest `backup_min_count` always stay, whatever their age;
- of the others, a backup goes when it is older than `backup_retention_days`, or when more
  than `backup_max_count` newer ones exist;
- failed rows older than `backup_retention_days` go too (they have no file).
A backup still being written, and archives written outside BACKUP_DIR, are never touched.

Settings live in SystemSetting (key -> JSON value) over the env defaults; the trash retention is
files' own (files.services.trash_retention_days), the registration switch accounts' own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adminops.backups.services import USABLE, audit, backup_dir, delete_file, managed_path
from adminops.models import Backup, BackupStatus
from files import services as file_services
from medikeep.accounts.models import SystemSetting
from medikeep.accounts.selectors import REGISTRATION_SETTING
from medikeep.api.exceptions import FieldValidationError

BACKUP_RETENTION_DAYS = "backup_retention_days"
BACKUP_MIN_COUNT = "backup_min_count"
BACKUP_MAX_COUNT = "backup_max_count"
TRASH_RETENTION_DAYS = file_services.TRASH_RETENTION_SETTING
SETTING_KEYS = (
    BACKUP_RETENTION_DAYS,
    BACKUP_MIN_COUNT,
    BACKUP_MAX_COUNT,
    TRASH_RETENTION_DAYS,
    REGISTRATION_SETTING,
)
# Files in BACKUP_DIR younger than this are never orphans: an upload or a backup may still be
# writing them before its row exists or is complete.
ORPHAN_GRACE = timedelta(hours=1)
ARCHIVE_SUFFIXES = (".tar", ".age", ".partial")
SCRATCH_PREFIXES = (".staging-", ".verify-")


def _defaults() -> dict:
    return {
        BACKUP_RETENTION_DAYS: settings.BACKUP_RETENTION_DAYS,
        BACKUP_MIN_COUNT: settings.BACKUP_MIN_COUNT,
        BACKUP_MAX_COUNT: settings.BACKUP_MAX_COUNT,
        TRASH_RETENTION_DAYS: settings.FILES_TRASH_RETENTION_DAYS,
        REGISTRATION_SETTING: settings.ALLOW_USER_REGISTRATION,
    }


def retention_settings() -> dict:
    """The five settings of Admin -> Settings / Backups, in one query."""
    stored = dict(SystemSetting.objects.filter(key__in=SETTING_KEYS).values_list("key", "value"))
    values = _defaults()
    for key, default in values.items():
        value = stored.get(key)
        if isinstance(default, bool):
            values[key] = value if isinstance(value, bool) else default
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            values[key] = value
    return values


def retention_settings_update(*, changes: dict, user=None, ip=None) -> dict:
    """Writes the given settings (already type-checked) in one transaction, after checking
    the result as a whole (min <= max); answers every setting."""
    current = retention_settings()
    merged = {**current, **changes}
    if merged[BACKUP_MIN_COUNT] > merged[BACKUP_MAX_COUNT]:
        field_name = BACKUP_MIN_COUNT if BACKUP_MIN_COUNT in changes else BACKUP_MAX_COUNT
        raise FieldValidationError(
            field_name,
            f"backup_min_count ({merged[BACKUP_MIN_COUNT]}) cannot exceed backup_max_count "
            f"({merged[BACKUP_MAX_COUNT]}).",
        )
    changed = {key: value for key, value in changes.items() if current.get(key) != value}
    with transaction.atomic():
        for key, value in changes.items():
            SystemSetting.objects.update_or_create(key=key, defaults={"value": value})
        if changed:
            audit(
                user=user,
                action="settings_updated",
                backup=None,
                description="Retention settings changed: "
                + ", ".join(f"{key}={value}" for key, value in changed.items()),
                ip=ip,
                before={key: current[key] for key in changed},
                after=changed,
            )
    return {**current, **changes}


@dataclass
class RetentionPlan:
    delete: list[tuple[Backup, str]] = field(default_factory=list)  # (backup, reason)
    keep: list[Backup] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


def retention_plan(*, now=None) -> RetentionPlan:
    values = retention_settings()
    now = now or timezone.now()
    cutoff = now - timedelta(days=values[BACKUP_RETENTION_DAYS])
    plan = RetentionPlan(settings=values)
    usable = 0
    for backup in Backup.objects.order_by("-created_at", "-id"):
        if not managed_path(backup) and backup.path:
            continue
        if backup.status in USABLE:
            usable += 1
            if usable <= values[BACKUP_MIN_COUNT]:
                plan.keep.append(backup)
            elif usable > values[BACKUP_MAX_COUNT]:
                plan.delete.append(
                    (backup, f"more than {values[BACKUP_MAX_COUNT]} newer backups exist")
                )
            elif backup.created_at < cutoff:
                plan.delete.append((backup, f"older than {values[BACKUP_RETENTION_DAYS]} days"))
            else:
                plan.keep.append(backup)
        elif backup.status == BackupStatus.FAILED and backup.created_at < cutoff:
            plan.delete.append((backup, "failed, and older than the retention"))
    return plan


def _size(backup: Backup) -> int:
    try:
        return backup.file_path.stat().st_size
    except OSError:
        return 0


def backup_cleanup(*, user=None, ip=None, now=None) -> dict:
    """Applies the retention rule: files and rows."""
    plan = retention_plan(now=now)
    deleted, freed = [], 0
    for backup, reason in plan.delete:
        freed += _size(backup)
        delete_file(backup)
        deleted.append({"id": backup.pk, "filename": backup.filename, "reason": reason})
        audit(
            user=user,
            action="backup_deleted",
            backup=backup,
            description=f"Backup removed by retention ({reason}): {backup.filename}",
            ip=ip,
        )
        backup.delete()
    return {
        "total_deleted": len(deleted),
        "deleted_backups": deleted,
        "freed_bytes": freed,
        "kept_count": len(plan.keep),
        "settings": plan.settings,
        "message": f"Removed {len(deleted)} backup(s) by the retention settings.",
    }


def _orphans(now=None) -> tuple[list[Path], list[Backup]]:
    directory = backup_dir()
    known = set(Backup.objects.exclude(path="").values_list("path", flat=True))
    cutoff = (now or timezone.now()).timestamp() - ORPHAN_GRACE.total_seconds()
    files = []
    for entry in sorted(directory.iterdir()):
        if entry.is_symlink() or entry.name in known:
            continue
        try:
            modified = entry.stat().st_mtime
        except OSError:
            continue
        if modified > cutoff:
            continue
        if entry.is_file() and entry.name.endswith(ARCHIVE_SUFFIXES):
            files.append(entry)
        elif entry.is_dir() and entry.name.startswith(SCRATCH_PREFIXES):
            files.append(entry)  # left by a backup or verify that was killed
    rows = [
        backup
        for backup in Backup.objects.filter(status__in=USABLE).order_by("id")
        if managed_path(backup) and not backup.file_path.exists()
    ]
    return files, rows


def _entry_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def backup_cleanup_orphaned(*, user=None, ip=None, now=None) -> dict:
    """Files in BACKUP_DIR that no row names (archives and scratch folders, older than an
    hour) and rows whose file is gone."""
    files, rows = _orphans(now)
    freed, removed = 0, []
    for path in files:
        try:
            freed += _entry_size(path)
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path.name)
    record_ids = [backup.pk for backup in rows]
    for backup in rows:
        audit(
            user=user,
            action="backup_deleted",
            backup=backup,
            description=f"Backup record removed, its file is gone: {backup.filename}",
            ip=ip,
        )
        backup.delete()
    if removed:
        audit(
            user=user,
            action="backup_orphans_deleted",
            backup=None,
            description=f"Removed {len(removed)} file(s) without a backup record",
            ip=ip,
            files=removed[:100],
        )
    return {
        "orphaned_files_deleted": len(removed),
        "orphaned_records_deleted": len(rows),
        "deleted_files": removed,
        "deleted_record_ids": record_ids,
        "freed_bytes": freed,
        "total_deleted": len(removed) + len(rows),
        "message": f"Removed {len(removed)} orphaned file(s) and {len(rows)} record(s).",
    }


def cleanup_all(*, user=None, ip=None, now=None) -> dict:
    """Retention, orphans, and the file trash past its retention, in that order."""
    backups = backup_cleanup(user=user, ip=ip, now=now)
    orphans = backup_cleanup_orphaned(user=user, ip=ip, now=now)
    trash = file_services.empty_expired_trash(now=now, user=user, ip=ip)
    total = backups["total_deleted"] + orphans["orphaned_files_deleted"] + trash["deleted_count"]
    return {
        "backups": backups,
        "orphaned": orphans,
        "trash": trash,
        "total_files_cleaned": total,
        "total_deleted": total,
        "freed_bytes": backups["freed_bytes"] + orphans["freed_bytes"] + trash["freed_bytes"],
        "message": (
            f"Removed {backups['total_deleted']} old backup(s), "
            f"{orphans['orphaned_files_deleted']} orphaned file(s) and "
            f"{trash['deleted_count']} file(s) from the trash."
        ),
    }


def retention_stats(*, now=None) -> dict:
    """What the backups take, and what cleanup and cleanup-all would remove now."""
    from files.models import EntityFile

    now = now or timezone.now()
    plan = retention_plan(now=now)
    backups = list(Backup.objects.order_by("-created_at", "-id"))
    sizes = {backup.pk: _size(backup) for backup in backups}
    files, rows = _orphans(now)
    trash_cutoff = now - timedelta(days=file_services.trash_retention_days())
    trash = EntityFile.objects.trashed().filter(trashed_at__lte=trash_cutoff)
    directory = backup_dir()
    disk = shutil.disk_usage(directory)
    return {
        "settings": plan.settings,
        "total_backups": len(backups),
        "usable_backups": sum(1 for b in backups if b.status in USABLE),
        "total_size_bytes": sum(sizes.values()),
        "oldest_backup_at": backups[-1].created_at if backups else None,
        "newest_backup_at": backups[0].created_at if backups else None,
        "would_delete_count": len(plan.delete),
        "would_free_bytes": sum(sizes.get(b.pk, 0) for b, _ in plan.delete),
        "would_keep_count": len(plan.keep),
        "would_delete": [
            {
                "id": backup.pk,
                "filename": backup.filename,
                "backup_type": backup.backup_type,
                "status": backup.status,
                "created_at": backup.created_at,
                "size_bytes": sizes.get(backup.pk, 0),
                "reason": reason,
            }
            for backup, reason in plan.delete
        ],
        "orphaned_files": len(files),
        "orphaned_files_bytes": sum(_entry_size(path) for path in files),
        "orphaned_records": len(rows),
        "expired_trash_files": trash.count(),
        "expired_trash_bytes": sum(trash.values_list("file_size", flat=True)),
        "backup_dir": str(directory),
        "disk_free_bytes": disk.free,
        "generated_at": now,
    }
