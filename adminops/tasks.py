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
