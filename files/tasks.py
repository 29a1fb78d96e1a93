"""Housekeeping of entity files, run by Celery beat."""

from celery import shared_task

from files import services


@shared_task(name="files.tasks.purge_expired_trash")
def purge_expired_trash() -> int:
    """Removes files whose time in the trash is over; returns how many."""
    return services.purge_expired_trash()


@shared_task(name="files.tasks.check_storage")
def check_storage() -> dict:
    """Trashes files whose record vanished without telling us, then reports objects with no
    row and rows with no object (logged; the admin API will show them)."""
    trashed = services.trash_files_of_missing_records()
    report = services.storage_report()
    return {"trashed_without_record": trashed, **report}


# Waits between attempts to finish an upload to a document back-end: quick at first (a
# Paperless consumer takes seconds), then longer, for about a day in all.
REMOTE_UPLOAD_BACKOFF = (2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 3600, 7200)


@shared_task(bind=True, name="files.tasks.complete_remote_upload", max_retries=None)
def complete_remote_upload(self, file_id: int) -> str:
    """Gets one stored file onto its back-end (send, poll the back-end's task, confirm, drop
    the local copy), retrying with back-off while the back-end is busy, unreachable or slow.
    After the last wait the row is marked failed and keeps its local copy."""
    from files.backends import BackendError, BackendTimeout, BackendUnavailable, remote

    try:
        outcome = remote.advance(file_id)
        reason = "the back-end did not finish processing the file"
    except (BackendUnavailable, BackendTimeout) as exc:
        outcome, reason = remote.WAIT, str(exc.detail)
    except BackendError as exc:  # refused the file: retrying would not change that
        entity_file = remote.EntityFile.objects.filter(pk=file_id).first()
        if entity_file is not None:
            remote.mark_failed(entity_file, str(exc.detail))
        return remote.FAILED
    if outcome != remote.WAIT:
        return outcome
    attempt = self.request.retries or 0
    if attempt >= len(REMOTE_UPLOAD_BACKOFF):
        entity_file = remote.EntityFile.objects.filter(pk=file_id).first()
        if entity_file is not None:
            remote.mark_failed(entity_file, reason)
        return remote.FAILED
    if self.request.is_eager:
        # Run in-process (tests, CELERY_TASK_ALWAYS_EAGER): eager retries would propagate
        # as exceptions, so the next attempt runs now, counted as a retry.
        return complete_remote_upload.apply(args=(file_id,), retries=attempt + 1).result
    raise self.retry(countdown=REMOTE_UPLOAD_BACKOFF[attempt])


@shared_task(name="files.tasks.resume_remote_uploads")
def resume_remote_uploads() -> int:
    """Re-queues uploads to back-ends left unfinished (a worker died, the broker lost the
    message): the rows, not the broker, are the record of work to do."""
    from files.backends import remote

    file_ids = remote.unfinished_upload_ids()
    for file_id in file_ids:
        complete_remote_upload.delay(file_id)
    return len(file_ids)
