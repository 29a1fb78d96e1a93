"""Operational tasks."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

WORKER_HEARTBEAT_KEY = "worker-heartbeat"


@shared_task(name="adminops.tasks.record_worker_heartbeat")
def record_worker_heartbeat() -> str:
    """Proves to /system/health that a worker and beat are alive: beat sends it every minute."""
    now = timezone.now().isoformat()
    cache.set(WORKER_HEARTBEAT_KEY, now, timeout=None)
    return now


@shared_task(name="adminops.tasks.run_due_backup", ignore_result=True)
def run_due_backup() -> str | None:
    """Beat, every minute: when the admins' backup schedule has a slot due, claims it (one
    claim even with two beats) and queues the backup. Returns the slot started, if any."""
    from adminops.backups.schedule import claim_due_slot

    slot = claim_due_slot()
    if slot is None:
        return None
    run_scheduled_backup.delay()
    return slot.isoformat()


@shared_task(name="adminops.tasks.run_scheduled_backup")
def run_scheduled_backup() -> int | None:
    """A full backup, then the retention cleanup (adminops/backups/schedule.py)."""
    from adminops.backups.schedule import run_scheduled_backup as run

    return run()
