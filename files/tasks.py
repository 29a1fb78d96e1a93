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
