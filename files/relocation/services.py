"""Moving a user's local files to their document back-end, one by one, in a background job.

Which files: the user's own (uploaded by them: a back-end document is read with its
uploader's settings, files.backends.remote), live, kept in our storage. Each file goes through
the shared send-and-confirm code (files.backends.remote.advance): its row names the back-end
while its local copy is still there, the back-end's task is polled, and the local copy is
deleted only once the back-end has confirmed the document. Whatever goes wrong with one file
puts it back exactly as it was (local) and counts it; a back-end that stops answering ends the
job (failed, with the reason) and the files not reached stay local. Cancel is checked between
files.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from files.backends import (
    BackendError,
    BackendNotConfigured,
    BackendTimeout,
    BackendUnavailable,
    backend_for,
    backend_label,
    remote,
)
from files.models import EntityFile, StorageBackend, SyncStatus
from files.relocation.models import ACTIVE_STATUSES, FileMigrationJob, FileMigrationStatus
from medikeep.api.exceptions import ConflictError

logger = logging.getLogger("files")

TARGETS = (StorageBackend.PAPERLESS, StorageBackend.PAPRA)
MAX_FAILURES_KEPT = 200  # reasons kept on the job; the count goes on

MOVED, DEFERRED, FAILED, STOPPED = "moved", "deferred", "failed", "stopped"


def _setting(name: str, default):
    return getattr(settings, name, default)


def processing_wait_seconds() -> float:
    """How long the job waits for the back-end to process one file before handing it to the
    regular upload task (which keeps the local copy until it is confirmed)."""
    return float(_setting("FILE_MIGRATION_PROCESSING_WAIT_SECONDS", 300))


def retry_pauses() -> list[float]:
    """Pauses before each new try when the back-end is unreachable or slow."""
    base = float(_setting("FILE_MIGRATION_RETRY_SECONDS", 5))
    return [base * 2**attempt for attempt in range(int(_setting("FILE_MIGRATION_RETRIES", 2)))]


def stale_after() -> timedelta:
    """A job not touched for this long lost its worker: a new one may start."""
    return timedelta(minutes=int(_setting("FILE_MIGRATION_STALE_MINUTES", 30)))


def movable_files(user, *, after_id: int = 0, up_to_id: int | None = None):
    """The user's live files kept in our storage, by id."""
    files = (
        EntityFile.objects.live()
        .filter(uploaded_by=user, storage_backend=StorageBackend.LOCAL, pk__gt=after_id)
        .exclude(stored_name__startswith=remote.REMOTE_PREFIX)
    )
    if up_to_id is not None:
        files = files.filter(pk__lte=up_to_id)
    return files.order_by("pk")


def jobs_of(user):
    return FileMigrationJob.objects.filter(user=user)


# --- starting and cancelling ----------------------------------------------------------------


def _end_stale_jobs(user) -> None:
    cutoff = timezone.now() - stale_after()
    jobs_of(user).filter(status__in=ACTIVE_STATUSES, updated_at__lt=cutoff).update(
        status=FileMigrationStatus.FAILED,
        error="The job stopped answering (its worker ended); the files not moved stay local.",
        finished_at=timezone.now(),
        current_file=None,
        current_file_name="",
    )


def start_migration(*, user, target: str) -> FileMigrationJob:
    """A new job moving the user's local files to `target`, queued after commit. 409 while
    another of the user's jobs runs; 400 when the back-end is not set up and enabled."""
    from files.relocation import tasks

    if target not in TARGETS:
        raise BackendNotConfigured(f"Unknown document server {target!r}.")
    backend_for(target, user)  # BackendNotConfigured unless set up and enabled
    with transaction.atomic():
        # One start at a time per user: the user's row is the lock.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        _end_stale_jobs(user)
        running = jobs_of(user).filter(status__in=ACTIVE_STATUSES).first()
        if running is not None:
            raise ConflictError(
                f"A migration of your files is already running (job {running.pk}); wait for "
                "it to finish or cancel it."
            )
        files = movable_files(user)
        last = files.last()
        job = FileMigrationJob.objects.create(
            user=user,
            target_backend=target,
            total_files=files.count(),
            max_file_id=last.pk if last is not None else 0,
        )
        job_id = job.pk
        transaction.on_commit(lambda: tasks.run_file_migration.delay(job_id))
    return job


def cancel_migration(*, job: FileMigrationJob) -> FileMigrationJob:
    """Asks the job to stop after the file it is moving; a job not started yet stops at once.
    409 for a job that already ended (other than by a cancel)."""
    with transaction.atomic():
        job = FileMigrationJob.objects.select_for_update().get(pk=job.pk)
        if job.status == FileMigrationStatus.CANCELLED:
            return job
        if not job.is_active:
            raise ConflictError(f"This migration has already ended ({job.status}).")
        job.cancel_requested_at = job.cancel_requested_at or timezone.now()
        fields = ["cancel_requested_at", "updated_at"]
        if job.status == FileMigrationStatus.PENDING:
            job.status = FileMigrationStatus.CANCELLED
            job.finished_at = timezone.now()
            fields += ["status", "finished_at"]
        job.save(update_fields=fields)
    return job


# --- the job itself ---------------------------------------------------------------------------


def _finish(job: FileMigrationJob, status: str, error: str = "") -> None:
    job.status = status
    job.error = error
    job.finished_at = timezone.now()
    job.current_file = None
    job.current_file_name = ""
    job.save(
        update_fields=[
            "status",
            "error",
            "finished_at",
            "current_file",
            "current_file_name",
            "updated_at",
        ]
    )


def _cancel_requested(job: FileMigrationJob) -> bool:
    return (
        FileMigrationJob.objects.filter(pk=job.pk, cancel_requested_at__isnull=False).exists()
        or not FileMigrationJob.objects.filter(pk=job.pk).exists()
    )


def run_migration(job_id: int) -> str:
    """Moves the job's files one by one; returns the job's final status. Safe to run again
    (a retried task): it carries on after the last file handled."""
    job = FileMigrationJob.objects.select_related("user").filter(pk=job_id).first()
    if job is None or not job.is_active:
        return job.status if job is not None else "missing"
    if job.cancel_requested_at is not None:
        _finish(job, FileMigrationStatus.CANCELLED)
        return job.status
    job.status = FileMigrationStatus.RUNNING
    job.started_at = job.started_at or timezone.now()
    job.save(update_fields=["status", "started_at", "updated_at"])
    while True:
        if _cancel_requested(job):
            _finish(job, FileMigrationStatus.CANCELLED)
            return job.status
        entity_file = movable_files(
            job.user, after_id=job.last_file_id, up_to_id=job.max_file_id
        ).first()
        if entity_file is None:
            _finish(job, FileMigrationStatus.DONE)
            return job.status
        job.current_file = entity_file
        job.current_file_name = entity_file.file_name[:255]
        job.save(update_fields=["current_file", "current_file_name", "updated_at"])
        outcome, reason = move_file(job, entity_file)
        job.last_file_id = entity_file.pk
        if outcome == MOVED:
            job.moved_files += 1
        elif outcome == DEFERRED:
            job.deferred_files += 1
        else:
            job.failed_files += 1
            if len(job.failures) < MAX_FAILURES_KEPT:
                job.failures = [
                    *job.failures,
                    {
                        "file_id": entity_file.pk,
                        "file_name": entity_file.file_name,
                        "reason": reason,
                    },
                ]
        job.save(
            update_fields=[
                "last_file_id",
                "moved_files",
                "deferred_files",
                "failed_files",
                "failures",
                "updated_at",
            ]
        )
        if outcome == STOPPED:
            _finish(
                job,
                FileMigrationStatus.FAILED,
                f"{reason} The migration stopped; the files not moved stay in local storage.",
            )
            return job.status


def _claim(entity_file: EntityFile, target: str) -> bool:
    """Point the row at the back-end while its local copy stays (served as before)."""
    changes = {"storage_backend": target, "sync_status": SyncStatus.PENDING}
    if target == StorageBackend.PAPRA:
        changes["papra_organization_id"] = (
            getattr(entity_file.uploaded_by.preference, "papra_organization_id", None)
            if entity_file.uploaded_by_id
            else None
        )
    updated = (
        EntityFile.objects.live()
        .filter(
            pk=entity_file.pk,
            stored_name=entity_file.stored_name,
            storage_backend=StorageBackend.LOCAL,
        )
        .update(updated_at=timezone.now(), **changes)
    )
    return bool(updated)


def _put_back(entity_file: EntityFile) -> None:
    """The file is local again, as before the attempt (only while its local copy is there)."""
    EntityFile.objects.filter(pk=entity_file.pk, stored_name=entity_file.stored_name).update(
        storage_backend=StorageBackend.LOCAL,
        sync_status=SyncStatus.SYNCED,
        paperless_task_uuid=None,
        paperless_document_id=None,
        papra_document_id=None,
        papra_organization_id=None,
        updated_at=timezone.now(),
    )


def _failure_reason(entity_file: EntityFile, target: str) -> str:
    """Why remote.advance gave up on the file, as far as the row and the back-end tell."""
    row = EntityFile.objects.filter(pk=entity_file.pk).first()
    label = backend_label(target)
    if row is None:
        return "The file was removed while it was being moved."
    document_id = remote.document_id_of(row) if row.storage_backend == target else None
    task_id = remote.task_id_of(row) if row.storage_backend == target else None
    if document_id:
        return f"{label} document {document_id} does not match the file sent; it stays local."
    if task_id:
        try:
            state = backend_for(target, row.uploaded_by).task_status(task_id)
        except (BackendError, NotImplementedError):
            state = {}
        if state.get("error"):
            return f"{label} refused the file: {state['error']}"
    return f"{label} did not take the file; it stays local."


def move_file(job: FileMigrationJob, entity_file: EntityFile) -> tuple[str, str]:
    """(outcome, reason) of moving one file: MOVED, DEFERRED, FAILED or STOPPED."""
    target = job.target_backend
    if not _claim(entity_file, target):
        return FAILED, "The file changed while waiting (moved to the trash or elsewhere)."
    pauses = retry_pauses()
    deadline = time.monotonic() + processing_wait_seconds()
    poll_pause = 0.5
    while True:
        try:
            outcome = remote.advance(entity_file.pk)
        except (BackendUnavailable, BackendTimeout) as exc:
            if pauses:
                time.sleep(pauses.pop(0))
                continue
            _put_back(entity_file)
            return STOPPED, str(exc.detail)
        except BackendError as exc:  # refused, not configured …: this file only
            _put_back(entity_file)
            return FAILED, str(exc.detail)
        except Exception:
            # Our side (its bytes unreadable …): this file stays local, the others go on.
            logger.exception("file migration %s: file %s failed", job.pk, entity_file.pk)
            _put_back(entity_file)
            return FAILED, "An error on this server stopped this file (see the server log)."
        if outcome == remote.DONE:
            row = EntityFile.objects.filter(pk=entity_file.pk).first()
            if row is not None and row.storage_backend == target and remote.is_remote(row):
                return MOVED, ""
            _put_back(entity_file)
            return FAILED, "The file changed while it was being moved; it stays local."
        if outcome == remote.FAILED:
            reason = _failure_reason(entity_file, target)
            _put_back(entity_file)
            return FAILED, reason
        if time.monotonic() >= deadline:
            # Still processing on the back-end: the regular upload task takes over and
            # drops the local copy once the document is confirmed.
            row = EntityFile.objects.filter(pk=entity_file.pk).first()
            if row is not None:
                remote.start_upload(row, try_now=False)
            return DEFERRED, ""
        FileMigrationJob.objects.filter(pk=job.pk).update(updated_at=timezone.now())
        time.sleep(poll_pause)
        poll_pause = min(poll_pause * 2, 10.0)
