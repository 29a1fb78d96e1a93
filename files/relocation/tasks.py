"""The background task of a file migration (registered by files.apps)."""

from celery import shared_task


@shared_task(name="files.tasks.run_file_migration")
def run_file_migration(job_id: int) -> str:
    """Moves a migration job's files to its back-end; returns the job's final status."""
    from files.relocation import services

    return services.run_migration(job_id)
