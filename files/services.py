"""Every change to entity files goes through here: upload, metadata, trash, restore, purge.

The bytes live in files.storage; a row exists only for bytes that were stored. Deleting moves a
file to the trash (its row is marked, its bytes stay) so that a restore cannot fail for lack
of storage; the purge later removes the bytes first and the row second, so a worker that dies
in between leaves a row the next purge finishes, never bytes nobody can find.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from files import storage
from files.entity_types import EntityType
from files.models import EntityFile, StorageBackend, SyncStatus
from files.uploads import check_upload, clean_file_name
from medikeep.accounts.selectors import system_setting
from medikeep.api.exceptions import BusinessRuleError, FieldValidationError
from patients.choices import RecordAction
from patients.core.serializers import model_snapshot
from patients.signals import record_changed

logger = logging.getLogger("files")

RESTORED = "restored"
PURGED = "purged"


def _announce(*, user, entity_file: EntityFile, action: str, before=None, after=None, ip=None):
    patient_id = entity_file.patient_id
    transaction.on_commit(
        lambda: record_changed.send(
            sender=EntityFile,
            user=user,
            instance=entity_file,
            action=action,
            before=before,
            after=after,
            patient_id=patient_id,
            ip_address=ip,
        )
    )


def check_backend(storage_backend: str | None, user=None) -> str:
    """The back-end a new upload goes to: local, or Paperless-ngx / Papra when the uploader
    has that back-end set up and enabled (422 otherwise, naming what to do)."""
    from files.backends import BackendNotConfigured
    from files.backends.remote import check_target

    backend = storage_backend or StorageBackend.LOCAL
    if backend not in StorageBackend.values:
        raise FieldValidationError("storage_backend", "Choose one of: local, paperless, papra.")
    if backend != StorageBackend.LOCAL:
        try:
            check_target(backend, user)
        except BackendNotConfigured as exc:
            raise FieldValidationError(
                "storage_backend",
                f"{exc.detail} Set it up under Settings, or choose local.",
            ) from exc
    return backend


def announce_created(*, user, entity_file: EntityFile, ip=None) -> None:
    _announce(
        user=user,
        entity_file=entity_file,
        action=RecordAction.CREATED,
        after=model_snapshot(entity_file),
        ip=ip,
    )


def upload(
    *,
    user,
    entity: EntityType,
    entity_id: int,
    patient_id: int,
    upload,
    description: str = "",
    category: str = "",
    storage_backend: str | None = None,
    ip: str | None = None,
) -> EntityFile:
    """Checks and stores one upload and creates its row. For Paperless-ngx / Papra the bytes
    are stored here first and a task sends them on (files.backends.remote): the local copy
    goes only once the back-end has confirmed the document."""
    backend = check_backend(storage_backend, user)
    file_name = clean_file_name(upload.name)
    extension, mime = check_upload(upload, file_name)
    key = f"{entity.name}/{uuid.uuid4().hex}.{extension}"
    stored_name = storage.save(key, upload)
    try:
        with transaction.atomic():
            entity_file = EntityFile.objects.create(
                patient_id=patient_id,
                entity_type=entity.name,
                entity_id=entity_id,
                file_name=file_name,
                stored_name=stored_name,
                file_size=upload.size,
                file_type=mime,
                sha256=upload.sha256,
                description=description,
                category=category,
                storage_backend=backend,
                sync_status=(
                    SyncStatus.SYNCED if backend == StorageBackend.LOCAL else SyncStatus.PENDING
                ),
                uploaded_by=user if getattr(user, "is_authenticated", False) else None,
            )
            _announce(
                user=user,
                entity_file=entity_file,
                action=RecordAction.CREATED,
                after=model_snapshot(entity_file),
                ip=ip,
            )
    except BaseException:
        storage.delete(stored_name)  # no row, no bytes
        raise
    if backend != StorageBackend.LOCAL:
        from files.backends.remote import start_upload

        start_upload(entity_file)
    return entity_file


def update_metadata(*, user, entity_file: EntityFile, changes: dict, ip=None) -> EntityFile:
    before = model_snapshot(entity_file)
    for field, value in changes.items():
        setattr(entity_file, field, value)
    with transaction.atomic():
        entity_file.save(update_fields=[*changes, "updated_at"])
        _announce(
            user=user,
            entity_file=entity_file,
            action=RecordAction.UPDATED,
            before=before,
            after=model_snapshot(entity_file),
            ip=ip,
        )
    return entity_file


def trash(*, user, entity_file: EntityFile, reason: str = "deleted", ip=None) -> EntityFile:
    before = model_snapshot(entity_file)
    entity_file.trashed_at = timezone.now()
    entity_file.trashed_by = user if getattr(user, "is_authenticated", False) else None
    entity_file.trash_reason = reason
    with transaction.atomic():
        entity_file.save(update_fields=["trashed_at", "trashed_by", "trash_reason", "updated_at"])
        _announce(
            user=user, entity_file=entity_file, action=RecordAction.DELETED, before=before, ip=ip
        )
    return entity_file


def trash_for_records(*, model, ids, reason: str) -> int:
    """Moves the files of deleted records to the trash; returns how many."""
    from files.entity_types import canonical_of

    name = canonical_of(model)
    if name is None:
        return 0
    return (
        EntityFile.objects.live()
        .filter(entity_type=name, entity_id__in=list(ids))
        .update(trashed_at=timezone.now(), trash_reason=reason)
    )


def trash_for_patient(*, patient_id: int) -> int:
    return (
        EntityFile.objects.live()
        .filter(patient_id=patient_id)
        .update(trashed_at=timezone.now(), trash_reason="patient deleted")
    )


TRASH_RETENTION_SETTING = "trash_retention_days"


def trash_retention_days() -> int:
    """Days a deleted file stays restorable: the admins' setting (Admin -> Settings, stored in
    SystemSetting) over FILES_TRASH_RETENTION_DAYS. Every reader of the retention asks here."""
    value = system_setting(TRASH_RETENTION_SETTING, None)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return settings.FILES_TRASH_RETENTION_DAYS


def restore_until(entity_file: EntityFile, *, days: int | None = None):
    """When the file leaves the trash for good; lists pass `days` read once."""
    return entity_file.trashed_at + timedelta(days=trash_retention_days() if days is None else days)


def restore(*, user, entity_file: EntityFile, ip=None) -> EntityFile:
    """Takes a file out of the trash; its record (and patient) must still exist."""
    from files.entity_types import find_type

    if not entity_file.in_trash:
        return entity_file
    target = find_type(entity_file.entity_type)
    if (
        entity_file.patient_id is None
        or target is None
        or target.patient_of(entity_file.entity_id) != entity_file.patient_id
    ):
        raise BusinessRuleError("The record this file belonged to no longer exists.")
    entity_file.trashed_at = None
    entity_file.trashed_by = None
    entity_file.trash_reason = ""
    with transaction.atomic():
        entity_file.save(update_fields=["trashed_at", "trashed_by", "trash_reason", "updated_at"])
        _announce(user=user, entity_file=entity_file, action=RESTORED, ip=ip)
    return entity_file


def purge_expired_trash(*, now=None) -> int:
    """Deletes the bytes, then the row, of every file in the trash past its retention."""
    return empty_expired_trash(now=now)["deleted_count"]


def empty_expired_trash(*, now=None, user=None, ip=None) -> dict[str, int]:
    """purge_expired_trash, answering {deleted_count, freed_bytes}. An operator's cleanup
    passes `user`: each file purged then goes into the activity log with their name."""
    cutoff = (now or timezone.now()) - timedelta(days=trash_retention_days())
    purged = freed = 0
    for entity_file in EntityFile.objects.trashed().filter(trashed_at__lte=cutoff).iterator():
        before = model_snapshot(entity_file) if user is not None else None
        try:
            storage.delete(entity_file.stored_name)
        except Exception:
            logger.exception("trash purge: could not delete file %s", entity_file.pk)
            continue  # the row stays, so the next run tries again
        entity_file.delete()
        purged += 1
        freed += entity_file.file_size
        if user is not None:
            _announce(user=user, entity_file=entity_file, action=PURGED, before=before, ip=ip)
    return {"deleted_count": purged, "freed_bytes": freed}


def purge(*, user, entity_file: EntityFile, ip=None) -> int:
    """Deletes one file in the trash for good: bytes first, then the row (as the expiry purge
    does). Returns the bytes freed. A file not in the trash is refused; the row is locked so
    that a restore running at the same time cannot bring back a row whose bytes are gone."""
    with transaction.atomic():
        locked = EntityFile.objects.select_for_update().trashed().filter(pk=entity_file.pk).first()
        if locked is None:
            raise BusinessRuleError("The file is no longer in the trash.")
        before = model_snapshot(locked)
        storage.delete(locked.stored_name)
        locked.delete()
        _announce(user=user, entity_file=locked, action=PURGED, before=before, ip=ip)
    return locked.file_size


def storage_report() -> dict:
    """Objects in storage that no row names, and rows whose object is missing."""
    known = set(EntityFile.objects.values_list("stored_name", flat=True))
    stored = set(storage.all_names())
    missing = sorted(
        EntityFile.objects.filter(
            stored_name__in=known - stored, storage_backend=StorageBackend.LOCAL
        ).values_list("id", flat=True)
    )
    report = {
        "orphaned_objects": sorted(stored - known),
        "rows_without_object": missing,
    }
    if report["orphaned_objects"] or report["rows_without_object"]:
        logger.warning(
            "file storage check: %d objects without a row, %d rows without an object",
            len(report["orphaned_objects"]),
            len(report["rows_without_object"]),
        )
    return report


def trash_files_of_missing_records() -> int:
    """Trashes live files whose record is gone by a path that announced nothing (a raw
    queryset delete, the shell): one statement per record type."""
    from django.db.models import Exists, OuterRef

    from files.entity_types import canonical_types

    trashed = 0
    for entity in canonical_types():
        records = entity.model._default_manager.filter(pk=OuterRef("entity_id"))
        trashed += (
            EntityFile.objects.live()
            .filter(entity_type=entity.name)
            .exclude(Exists(records))
            .update(trashed_at=timezone.now(), trash_reason="record deleted")
        )
    return trashed
