"""Restore: check an uploaded archive, preview a restore, confirm it, run it.

The flow the web app follows is preview -> confirmation token -> execute:

- `check_upload(path)` reads a whole archive before it is kept (manifest, every member's size
  and SHA-256, member names and types — the reader refuses absolute names, `..`, links and
  devices — and the dumps); `register_upload` keeps it as a Backup row with status uploaded.
- `preview(backup)` says what a restore would replace, whether it can (`compatible`), and why.
- `issue_token(backup, user)`: a random token (secrets.token_urlsafe), stored as its SHA-256,
  for that admin and that backup, used once, within TOKEN_TTL.
- `execute(backup, token, user)` checks and spends the token, then `restore_backup`: one
  restore at a time; the stored archive's SHA-256 must still be the one recorded; a full safety
  backup is written first (its id is answered); then the archive streams once: the database is
  replaced inside ONE transaction (restore_db.py) and the files are written beside the stored
  ones (restore_files.py); the transaction commits only when every member was read and checked.
  A failure anywhere, or the process being killed, leaves the data as it was. After the commit,
  the files only the replaced rows named are deleted and the caches cleared.

Sessions: see restore_db.py — a sign-in survives a restore only while its account (id, active
flag, password hash) comes back unchanged from the backup.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status

import medikeep
from adminops.backups import archive, restore_db, restore_files
from adminops.backups.age import AgeKeys, is_age_file
from adminops.backups.database import hash_file
from adminops.backups.services import BackupFailed, audit, backup_create, backup_dir
from adminops.models import Backup, BackupStatus, RestoreToken
from medikeep.api.exceptions import ApiError, BusinessRuleError, ConflictError

logger = logging.getLogger("adminops.backups")

TOKEN_TTL = timedelta(minutes=15)
TOKEN_WARNING = (
    "This token allows one irreversible restore of this backup, by you, within 15 minutes."
)
REPLACE_WARNING = "This will replace all current data"


class ArchiveRejected(ApiError):
    """The archive is damaged or not one of ours; nothing was changed."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The backup archive was refused."
    error_code = "VAL-422"


class RestoreFailed(ApiError):
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "The restore failed; nothing was changed."
    error_code = "RESTORE-500"


def max_upload_bytes() -> int:
    return settings.RESTORE_MAX_UPLOAD_BYTES


# --- uploads ---------------------------------------------------------------------------------


def check_upload(path, *, keys: AgeKeys | None = None) -> archive.VerifyResult:
    """Reads the whole archive and raises ArchiveError with the reason when it may not be
    kept; answers the verification (its manifest, encrypted or not)."""
    path = Path(path)
    keys = keys or AgeKeys.from_settings()
    if is_age_file(path) and not keys.can_decrypt:
        raise archive.ArchiveError(
            "The archive is encrypted and this server holds no key to open it (set "
            "BACKUP_AGE_IDENTITIES or BACKUP_AGE_PASSPHRASE)."
        )
    result = archive.verify(path, keys=keys)
    if not result.valid:
        raise archive.ArchiveError("; ".join(result.errors[:3]) or "not a valid backup archive")
    return result


def register_upload(
    path, *, original_name: str = "", user=None, ip=None, keep_in_place: bool = False
) -> Backup:
    """Checks an archive (check_upload) and records it as an uploaded backup. The file is
    moved into BACKUP_DIR under a name of ours, or kept where it is (`keep_in_place`, for
    `manage.py restore PATH`); on refusal an upload in BACKUP_DIR is deleted."""
    path = Path(path)
    try:
        result = check_upload(path)
    except archive.ArchiveError:
        if not keep_in_place:
            path.unlink(missing_ok=True)
        raise
    manifest = result.manifest
    size, digest = hash_file(path)
    stamp = timezone.now().strftime("%Y-%m-%d_%H%M%S")
    suffix = ".tar.age" if result.encrypted else ".tar"
    if keep_in_place:
        target, stored_path = path.absolute(), str(path.absolute())
    else:
        name = f"uploaded_{manifest.backup_type}_{stamp}_{secrets.token_hex(3)}{suffix}"
        target = backup_dir() / name
        path.replace(target)
        stored_path = target.name
    described = f"Uploaded backup ({original_name})" if original_name else "Uploaded backup"
    backup = Backup.objects.create(
        backup_type=manifest.backup_type,
        status=BackupStatus.UPLOADED,
        filename=target.name,
        path=stored_path,
        size_bytes=size,
        sha256=digest,
        description=described[:1000],
        encrypted=result.encrypted,
        details={**manifest.summary(), "uploaded_as": original_name},
        created_by=user if getattr(user, "is_authenticated", False) else None,
        completed_at=timezone.now(),
        verified_at=timezone.now(),
    )
    audit(
        user=user,
        action="backup_uploaded",
        backup=backup,
        description=f"Backup uploaded for restore: {backup.filename}",
        ip=ip,
        size_bytes=size,
        sha256=digest,
    )
    return backup


# --- assessment and preview ------------------------------------------------------------------


@dataclass
class Assessment:
    backup: Backup
    manifest: archive.Manifest | None = None
    encrypted: bool = False
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def compatible(self) -> bool:
        return not self.problems and self.manifest is not None


def assess(backup: Backup) -> Assessment:
    """What a restore of `backup` would do, and what stands in its way (reads only the
    manifest; the members are checked while the restore reads them)."""
    found = Assessment(backup)
    if backup.status in (BackupStatus.CREATED, BackupStatus.FAILED):
        found.problems.append(f"The backup is {backup.get_status_display().lower()}.")
        return found
    if not backup.file_exists:
        found.problems.append("The backup file does not exist.")
        return found
    keys = AgeKeys.from_settings()
    try:
        found.encrypted = is_age_file(backup.file_path)
        if found.encrypted and not keys.can_decrypt:
            raise archive.ArchiveError(
                "The backup is encrypted and this server holds no key to open it."
            )
        with archive.open_archive(backup.file_path, keys=keys) as opened:
            manifest = found.manifest = opened.manifest
    except (archive.ArchiveError, OSError) as exc:
        found.problems.append(f"The backup cannot be read: {exc}")
        return found
    from django.db import connection

    if manifest.backup_type != "files":
        found.warnings.append(REPLACE_WARNING)
        found.problems += restore_db.schema_problems(manifest)
        vendor = (manifest.database or {}).get("vendor")
        if vendor and vendor != connection.vendor:
            found.warnings.append(
                f"The backup was made on {_vendor(vendor)}; it is loaded into "
                f"{_vendor(connection.vendor)} from its portable dump."
            )
    if manifest.backup_type == "database":
        found.warnings.append(
            "This backup holds no files: stored files stay as they are, so files uploaded "
            "since stay (unused) and files deleted since will be missing."
        )
    elif manifest.backup_type == "files":
        found.warnings.append(
            "Files only: missing or damaged files the current records name are written "
            "back; the database and the other files stay as they are."
        )
    else:
        found.warnings.append("Files are replaced too: files added since the backup are deleted.")
    if manifest.app_version and manifest.app_version != medikeep.VERSION:
        found.warnings.append(
            f"The backup was made by version {manifest.app_version}; this is {medikeep.VERSION}."
        )
    if manifest.backup_type != "database" and (space := restore_files.space_needed(manifest)):
        found.warnings.append(space)
    found.warnings += [f"Backup note: {w}" for w in manifest.warnings[:10]]
    found.warnings.append("A full safety backup of the current data is made first.")
    return found


def _vendor(name: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(name, name)


def preview(backup: Backup) -> dict:
    """The contract's preview, plus `compatible` and the `problems` behind a false one."""
    found = assess(backup)
    manifest = found.manifest
    kept = restore_db.kept_tables(manifest)
    counts = manifest.table_counts if manifest and manifest.backup_type != "files" else {}
    summary = manifest.summary() if manifest else backup.details or {}
    from django.db import connection

    return {
        "backup_id": backup.pk,
        "backup_type": manifest.backup_type if manifest else backup.backup_type,
        "backup_created": (manifest.created_at if manifest else None)
        or backup.created_at.isoformat(),
        "backup_size": backup.size_bytes,
        "backup_description": backup.description,
        "warnings": found.problems + found.warnings,
        "affected_data": {t: n for t, n in counts.items() if t not in kept},
        "compatible": found.compatible,
        "problems": found.problems,
        "encrypted": found.encrypted,
        "app_version": summary.get("app_version"),
        "current_app_version": medikeep.VERSION,
        "database_vendor": (summary.get("database") or {}).get("vendor"),
        "current_database_vendor": connection.vendor,
        "files_count": summary.get("file_count", 0),
        "files_bytes": summary.get("files_bytes", 0),
    }


# --- confirmation tokens ---------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(backup: Backup, user, *, ip=None) -> dict:
    """A confirmation for this admin to restore this backup once in the next 15 minutes;
    refused (409) when the backup cannot be restored."""
    found = assess(backup)
    if not found.compatible:
        raise ConflictError("This backup cannot be restored: " + " ".join(found.problems))
    now = timezone.now()
    RestoreToken.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    token = secrets.token_urlsafe(32)
    row = RestoreToken.objects.create(
        token_hash=_token_hash(token),
        backup=backup,
        user=user,
        created_at=now,
        expires_at=now + TOKEN_TTL,
    )
    audit(
        user=user,
        action="restore_token_issued",
        backup=backup,
        description=f"Restore confirmation issued for backup {backup.filename}",
        ip=ip,
    )
    return {
        "backup_id": backup.pk,
        "confirmation_token": token,
        "expires_at": row.expires_at.isoformat().replace("+00:00", "Z"),
        "expires_in_seconds": int(TOKEN_TTL.total_seconds()),
        "warning": TOKEN_WARNING,
    }


def spend_token(backup: Backup, token, user) -> None:
    """Checks the token against this backup and this admin and marks it used (once)."""
    if not isinstance(token, str) or not token.strip():
        raise BusinessRuleError("confirmation_token is required.")
    row = RestoreToken.objects.filter(token_hash=_token_hash(token.strip())).first()
    if row is None:
        raise BusinessRuleError("The confirmation token is not valid. Ask for a new one.")
    if row.user_id != getattr(user, "pk", None):
        raise exceptions.PermissionDenied(
            "This confirmation token was issued to another administrator."
        )
    if row.backup_id != backup.pk:
        raise BusinessRuleError(
            f"This confirmation token is for backup {row.backup_id}, not {backup.pk}."
        )
    now = timezone.now()
    if row.used_at is not None:
        raise BusinessRuleError("This confirmation token was already used. Ask for a new one.")
    if row.expires_at <= now:
        raise BusinessRuleError("This confirmation token has expired. Ask for a new one.")
    spent = RestoreToken.objects.filter(pk=row.pk, used_at__isnull=True, expires_at__gt=now)
    if spent.update(used_at=now) != 1:
        raise BusinessRuleError("This confirmation token was already used. Ask for a new one.")


# --- the restore -----------------------------------------------------------------------------


@contextlib.contextmanager
def _one_restore_at_a_time():
    lock_path = backup_dir() / ".restore.lock"
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError("A restore is already running.") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def execute(backup: Backup, token, user, *, ip=None, progress=None) -> dict:
    """The contract's execute: spends the confirmation token, then restore_backup."""
    spend_token(backup, token, user)
    return restore_backup(backup, user=user, ip=ip, progress=progress)


def restore_backup(backup: Backup, *, user=None, ip=None, progress=None) -> dict:
    """Restores `backup` all or nothing (module docstring); answers the contract's body.
    Raises ConflictError (cannot be restored, or busy), ArchiveRejected (damaged archive),
    RestoreFailed; in every case the data is as it was."""
    with _one_restore_at_a_time():
        restore_files.sweep_scratch()
        found = assess(backup)
        if not found.compatible:
            raise ConflictError("This backup cannot be restored: " + " ".join(found.problems))
        if backup.sha256:
            size, digest = hash_file(backup.file_path)
            if digest != backup.sha256 or (backup.size_bytes not in (None, size)):
                _failed(backup, user, ip, "the archive file changed since it was recorded")
                raise ArchiveRejected(
                    "The backup file differs from the one recorded when it was made or "
                    "uploaded (SHA-256): it was changed or damaged. Nothing was restored."
                )
        safety = _safety_backup(backup, found.manifest, user, ip)
        try:
            outcome = _run(backup, found.manifest, progress)
        except archive.ArchiveError as exc:
            _failed(backup, user, ip, str(exc), safety=safety)
            raise ArchiveRejected(
                f"The backup could not be restored, nothing was changed: {exc}"
            ) from exc
        except (IntegrityError, DataError) as exc:
            _failed(backup, user, ip, str(exc), safety=safety)
            raise ArchiveRejected(
                f"The database refused the backup's rows, nothing was changed: {exc}"
            ) from exc
        except Exception as exc:
            logger.exception("restore of backup %s failed", backup.pk)
            _failed(backup, user, ip, f"{type(exc).__name__}: {exc}", safety=safety)
            raise RestoreFailed(
                f"The restore failed, nothing was changed ({type(exc).__name__})."
            ) from exc
    completed = timezone.now()
    warnings = [*outcome["warnings"], *[w for w in found.warnings if w.startswith("Backup note")]]
    operator = _operator_after(user)
    audit(
        user=operator,
        action="restore_completed",
        backup=backup,
        description=f"Backup {backup.filename} restored (safety backup {safety.pk})",
        ip=ip,
        operator=getattr(user, "username", None) or "manage.py",
        safety_backup_id=safety.pk,
        tables=len(outcome["tables"]),
        rows=sum(outcome["tables"].values()),
        files=outcome["files"],
        warnings=warnings[:20],
    )
    logger.info("backup %s restored; safety backup %s", backup.pk, safety.pk)
    return {
        "success": True,
        "message": "Restore completed successfully",
        "backup_id": backup.pk,
        "backup_type": found.manifest.backup_type,
        "safety_backup_id": safety.pk,
        "restore_completed": completed.isoformat().replace("+00:00", "Z"),
        "warnings": warnings or None,
        "tables_restored": len(outcome["tables"]),
        "rows_restored": sum(outcome["tables"].values()),
        "files": outcome["files"],
    }


def _safety_backup(backup: Backup, manifest: archive.Manifest, user, ip) -> Backup:
    """A full backup of what is there now. A files restore only adds missing files and
    replaces files whose bytes no longer match their record, so nothing intact is replaced
    and its safety backup is of the database (a full one would refuse those damaged files)."""
    safety_type = "database" if manifest.backup_type == "files" else "full"
    try:
        return backup_create(
            backup_type=safety_type,
            description=f"Safety backup before restoring backup {backup.pk} ({backup.filename})",
            user=user,
            ip=ip,
        )
    except BackupFailed as exc:
        _failed(backup, user, ip, f"safety backup failed: {exc.backup.error}")
        raise RestoreFailed(
            f"The safety backup failed, so nothing was restored: {exc.backup.error}"
        ) from exc


def _run(backup: Backup, manifest: archive.Manifest, progress) -> dict:
    mode = manifest.backup_type
    with_database = mode in ("database", "full")
    files = restore_files.FileRestorer(mode="full" if mode == "full" else "files", references={})
    tables: dict[str, int] = {}
    no_admin = False
    try:
        with transaction.atomic(durable=True):
            # Read inside the transaction: on SQLite it holds the write lock from its start.
            before = restore_files.referenced_keys()
            loader = None
            if with_database:
                loader = restore_db.DatabaseLoader(manifest, progress=progress)
                loader.empty()
            else:
                files.references = before
            with archive.open_archive(backup.file_path) as opened:
                for member in opened.iter_members():
                    if member.kind == "portable-database" and loader is not None:
                        loader.load(member.chunks())
                        tables = loader.finish()
                        files.references = restore_files.referenced_keys()
                        no_admin = not _has_admin()
                    elif member.kind in ("file", "media") and mode != "database":
                        if with_database and not tables:
                            raise archive.ArchiveFormatError("files come before the database")
                        files.restore(member)
            if with_database and loader is not None and not loader.loaded:
                raise archive.ArchiveFormatError("the backup's database dump was not found")
            files.point_rows_at_renamed()
            # Confirmations were given for the data being replaced.
            RestoreToken.objects.filter(used_at__isnull=True).delete()
    except BaseException:
        files.discard()
        raise
    # Committed: from here on the restored data is the data.
    deleted = 0
    if mode == "full":
        deleted = restore_files.purge_unreferenced(before, restore_files.referenced_keys())
    _clear_caches()
    warnings = list(files.warnings)
    if no_admin:
        warnings.append(
            "The restored data has no active admin account: create one with "
            "`manage.py createsuperuser` to use the admin pages again."
        )
    if files.counts["skipped"]:
        skipped = files.counts["skipped"]
        warnings.append(f"{skipped} file(s) of the backup named by no record were skipped.")
    if with_database:
        missing = restore_files.missing_keys(restore_files.referenced_keys())
        if missing:
            warnings.append(f"{missing} file(s) named by the restored records are not in storage.")
    return {"tables": tables, "files": {**files.counts, "deleted": deleted}, "warnings": warnings}


def _has_admin() -> bool:
    from medikeep.accounts.choices import UserRole
    from medikeep.accounts.models import User

    return User.objects.filter(role=UserRole.ADMIN, is_active=True).exists()


def _clear_caches() -> None:
    """Cached figures describe the replaced data. Only our keys go: with Redis the cache
    shares its database with the Celery broker, which a FLUSHDB would empty too."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.cache import cache

    from adminops import selectors

    ContentType.objects.clear_cache()
    selectors._health_memo.clear()
    try:
        prefix = getattr(cache, "key_prefix", "")
        client = getattr(getattr(cache, "_cache", None), "get_client", None)
        if prefix and client is not None:
            redis = client(write=True)
            batch = []
            for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    redis.delete(*batch)
                    batch = []
            if batch:
                redis.delete(*batch)
        else:
            cache.clear()
    except Exception as exc:  # the restore is done; stale figures expire on their own
        logger.warning("restore: the cache could not be cleared: %s", exc)


def _operator_after(user):
    """The operator's account as the restored data has it (same id and name), or None."""
    from medikeep.accounts.models import User

    if not getattr(user, "is_authenticated", False):
        return None
    return User.objects.filter(pk=user.pk, username=user.username).first()


def _failed(backup: Backup, user, ip, reason: str, *, safety: Backup | None = None) -> None:
    logger.warning("restore of backup %s refused or failed: %s", backup.pk, reason)
    audit(
        user=user,
        action="restore_failed",
        backup=backup,
        description=f"Restore of backup {backup.filename} failed; nothing was changed",
        ip=ip,
        reason=reason[:500],
        safety_backup_id=safety.pk if safety else None,
    )
