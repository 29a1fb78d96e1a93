"""Backups as operations: make one, verify, delete, list, export. Retention and orphan
cleanup are in retention.py, the admins' schedule in schedule.py.

One backup runs at a time (a second start is refused with 409); a backup that fails leaves a
"failed" row with the reason and no file. Every run tells the administrators (backup_completed /
backup_failed notifications) and goes into the activity log with the operator.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import UTC, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status

from adminops.backups import archive
from adminops.backups.age import AgeKeys, is_age_file
from adminops.backups.database import hash_file
from adminops.models import ActivityLog, Backup, BackupStatus, BackupType
from medikeep.api.exceptions import ApiError, ConflictError, FieldValidationError

logger = logging.getLogger("adminops.backups")

# Statuses of rows whose file is a usable archive (retention counts these).
USABLE = (BackupStatus.COMPLETED, BackupStatus.VERIFIED, BackupStatus.UPLOADED)
_LOCK_ID = 0x6D6B_6275  # "mkbu": PostgreSQL advisory lock taken while a run is registered
_HOST = socket.gethostname()


class BackupFailed(ApiError):
    """The archive could not be written; the Backup row keeps the reason."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "The backup failed."
    error_code = "BACKUP-500"

    def __init__(self, backup: Backup):
        super().__init__(f"The backup failed: {backup.error}")
        self.backup = backup


def backup_dir() -> Path:
    """settings.BACKUP_DIR, created owner-only on first use (archives hold every record)."""
    path = Path(settings.BACKUP_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def managed_path(backup: Backup) -> bool:
    """Whether the archive lives in BACKUP_DIR (retention and orphan cleanup touch only
    those; `manage.py backup --output` elsewhere is the operator's own copy)."""
    return bool(backup.path) and not Path(backup.path).is_absolute()


def backup_filename(backup_type: str, *, encrypted: bool, now=None) -> str:
    stamp = (now or timezone.now()).astimezone(UTC).strftime("%Y-%m-%d_%H%M%S")
    suffix = ".tar.age" if encrypted else ".tar"
    return f"backup_{backup_type}_{stamp}_{secrets.token_hex(3)}{suffix}"


def admin_ids() -> list[int]:
    from medikeep.accounts.choices import UserRole
    from medikeep.accounts.models import User

    admins = User.objects.filter(role=UserRole.ADMIN, is_active=True)
    return list(admins.values_list("id", flat=True))


def audit(*, user, action: str, backup: Backup | None, description: str, ip=None, **metadata):
    """One activity-log row for an operation on backups (the operator; None for the schedule)."""
    ActivityLog.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        action=action,
        entity_type="backup",
        entity_id=backup.pk if backup is not None else None,
        description=description,
        metadata=metadata,
        ip_address=ip or None,
    )


def _process_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_backup() -> Backup | None:
    """The backup being written now, if any. Rows left "created" by a process that died are
    marked failed here, so a crash never blocks backups for good."""
    for backup in Backup.objects.filter(status=BackupStatus.CREATED):
        owner = backup.details.get("writer") or {}
        same_host = owner.get("host") == _HOST
        stale = timezone.now() - backup.created_at > timedelta(hours=24)
        if (same_host and not _process_alive(owner.get("pid"))) or (not same_host and stale):
            backup.status = BackupStatus.FAILED
            backup.error = "Interrupted: the process writing it stopped."
            backup.save(update_fields=["status", "error"])
            continue
        return backup
    return None


def _register(**fields) -> Backup:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
        # On SQLite the IMMEDIATE transaction already serialises this check and insert.
        running = running_backup()
        if running is not None:
            raise ConflictError(
                f"A backup is already running (id {running.pk}, started "
                f"{running.created_at:%Y-%m-%d %H:%M} UTC). Try again when it has finished."
            )
        return Backup.objects.create(**fields)


def _notify(backup: Backup, *, scheduled: bool) -> None:
    from notifications.services import notify

    completed = backup.status != BackupStatus.FAILED
    data = {
        "backup_id": backup.pk,
        "backup_type": backup.backup_type,
        "filename": backup.filename,
        "size_bytes": backup.size_bytes,
        "checksum": backup.sha256,
        "description": backup.description,
        "scheduled": scheduled,
        "encrypted": backup.encrypted,
    }
    if not completed:
        data["error"] = backup.error
    try:
        notify(
            event_type="backup_completed" if completed else "backup_failed",
            user_ids=admin_ids(),
            data=data,
        )
    except Exception:  # the backup itself is done; a notification problem must not undo it
        logger.exception("backup %s: could not queue the notification", backup.pk)


def backup_create(
    *,
    backup_type: str,
    description: str = "",
    user=None,
    encrypt: bool | None = None,
    output=None,
    progress=None,
    scheduled: bool = False,
    ip=None,
) -> Backup:
    """Writes a backup archive and its row; raises BackupFailed (row kept, status failed)
    when it cannot, ConflictError when another backup is running."""
    if backup_type not in BackupType.values:
        raise FieldValidationError("backup_type", f"Must be one of {', '.join(BackupType.values)}.")
    encrypt = settings.BACKUP_ENCRYPT if encrypt is None else encrypt
    now = timezone.now()
    if output:
        target = Path(output).expanduser().absolute()
        if target.exists():
            raise FieldValidationError("output", f"{target} exists; choose a new file name.")
        stored_path = str(target)
    else:
        target = backup_dir() / backup_filename(backup_type, encrypted=encrypt, now=now)
        stored_path = target.name
    backup = _register(
        backup_type=backup_type,
        status=BackupStatus.CREATED,
        filename=target.name,
        path=stored_path,
        description=description or "",
        encrypted=bool(encrypt),
        created_by=user if getattr(user, "is_authenticated", False) else None,
        created_at=now,
        details={"writer": {"host": _HOST, "pid": os.getpid()}, "scheduled": scheduled},
    )
    try:
        manifest = archive.write_backup(backup_type, target, progress=progress, encrypt=encrypt)
    except Exception as exc:
        expected = isinstance(exc, archive.ArchiveError | OSError)
        logger.log(
            logging.ERROR,
            "backup %s (%s) failed: %s",
            backup.pk,
            backup_type,
            exc,
            exc_info=not expected,
        )
        backup.status = BackupStatus.FAILED
        backup.error = str(exc)[:2000] or type(exc).__name__
        backup.details = {"scheduled": scheduled}
        backup.save(update_fields=["status", "error", "details"])
        audit(
            user=user,
            action="backup_failed",
            backup=backup,
            description=f"{backup.get_backup_type_display()} backup failed: {backup.error[:200]}",
            ip=ip,
        )
        _notify(backup, scheduled=scheduled)
        raise BackupFailed(backup) from exc
    backup.status = BackupStatus.COMPLETED
    backup.size_bytes = manifest.archive["size"]
    backup.sha256 = manifest.archive["sha256"]
    backup.details = {**manifest.summary(), "scheduled": scheduled}
    backup.completed_at = timezone.now()
    backup.save(update_fields=["status", "size_bytes", "sha256", "details", "completed_at"])
    logger.info("backup %s written: %s, %s bytes", backup.pk, backup.filename, backup.size_bytes)
    audit(
        user=user,
        action="backup_created",
        backup=backup,
        description=f"{backup.get_backup_type_display()} backup created: {backup.filename}",
        ip=ip,
        size_bytes=backup.size_bytes,
        sha256=backup.sha256,
    )
    _notify(backup, scheduled=scheduled)
    return backup


def backup_verify(*, backup: Backup, user=None, ip=None, progress=None) -> dict:
    """Checks the stored file against the row (size, SHA-256), then reads the archive
    (archive.verify). Marks the row verified, or failed with the reason; answers
    {valid, backup_id, verification_details}."""
    path = backup.file_path
    details: dict = {
        "file_exists": path.is_file(),
        "file_path": str(path),
        "encrypted": backup.encrypted,
    }
    errors: list[str] = []
    if not details["file_exists"]:
        errors.append("The backup file does not exist.")
    else:
        size, digest = hash_file(path)
        details["size_bytes"] = size
        details["size_matches"] = backup.size_bytes is None or size == backup.size_bytes
        details["checksum_matches"] = not backup.sha256 or digest == backup.sha256
        if not details["size_matches"]:
            errors.append(f"The file has {size} bytes; {backup.size_bytes} were written.")
        if not details["checksum_matches"]:
            errors.append("The file's SHA-256 differs from the one recorded when it was written.")
        keys = AgeKeys.from_settings()
        if is_age_file(path) and not keys.can_decrypt:
            details["contents_checked"] = False
            details["contents_note"] = (
                "Encrypted to public keys only: the server cannot open it (set "
                "BACKUP_AGE_IDENTITIES to check the contents too)."
            )
        else:
            result = archive.verify(path, keys=keys, progress=progress)
            details["contents_checked"] = True
            details.update(result.as_dict())
            errors.extend(result.errors)
    details["errors"] = errors
    valid = not errors
    backup.verified_at = timezone.now()
    if valid:
        if backup.status in (BackupStatus.COMPLETED, BackupStatus.FAILED, BackupStatus.VERIFIED):
            backup.status = BackupStatus.VERIFIED
        backup.error = ""
    elif backup.status != BackupStatus.CREATED:
        backup.status = BackupStatus.FAILED
        backup.error = "Verification failed: " + "; ".join(errors)[:1900]
    backup.save(update_fields=["status", "error", "verified_at"])
    audit(
        user=user,
        action="backup_verified" if valid else "backup_verify_failed",
        backup=backup,
        description=f"Backup {backup.filename} {'verified' if valid else 'failed verification'}",
        ip=ip,
        errors=errors[:20],
    )
    return {"valid": valid, "backup_id": backup.pk, "verification_details": details}


def delete_file(backup: Backup) -> bool:
    """Removes the archive (and a partial one); True when a file was removed."""
    path = backup.file_path
    removed = False
    for candidate in (path, path.with_name(path.name + ".partial")):
        try:
            candidate.unlink()
            removed = True
        except FileNotFoundError:
            pass
    return removed


def backup_delete(*, backup: Backup, user=None, ip=None) -> dict:
    """Deletes the row and its file; a backup still being written is refused (409)."""
    if backup.status == BackupStatus.CREATED and running_backup() == backup:
        raise ConflictError("This backup is still being written.")
    file_deleted = delete_file(backup)
    backup_id, filename = backup.pk, backup.filename
    audit(
        user=user,
        action="backup_deleted",
        backup=backup,
        description=f"Backup deleted: {filename}",
        ip=ip,
        file_deleted=file_deleted,
    )
    backup.delete()
    return {
        "message": f"Backup {filename} deleted.",
        "deleted_id": backup_id,
        "file_deleted": file_deleted,
    }


EXPORT_COLUMNS = (
    "ID",
    "Backup Type",
    "Status",
    "Filename",
    "Size (bytes)",
    "SHA-256",
    "Encrypted",
    "Created At",
    "Description",
    "File Exists",
)


def export_rows():
    """The backup history for the CSV export, newest first."""
    for backup in Backup.objects.order_by("-created_at", "-id").iterator():
        yield (
            backup.pk,
            backup.backup_type,
            backup.status,
            backup.filename,
            backup.size_bytes if backup.size_bytes is not None else "",
            backup.sha256,
            "yes" if backup.encrypted else "no",
            backup.created_at.isoformat(),
            backup.description,
            "yes" if backup.file_exists else "no",
        )
