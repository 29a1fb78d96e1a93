"""A real Celery worker on Redis, against the test database (run by .ci/run)."""

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from adminops.tasks import WORKER_HEARTBEAT_KEY, record_worker_heartbeat
from medikeep.accounts.tasks import flush_expired_tokens
from medikeep.accounts.tokens import issue_tokens
from medikeep.celery import app

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _requirements_missing() -> str | None:
    if not os.environ.get("REDIS_URL"):
        return "REDIS_URL is not set: a Redis broker is needed"
    if connection.vendor != "postgresql":
        return "DATABASE_URL does not name PostgreSQL: the worker must share the test database"
    return None


@pytest.fixture
def worker_queue():
    missing = _requirements_missing()
    if missing:
        pytest.skip(missing)
    db = connection.settings_dict
    queue = f"it-{uuid.uuid4().hex[:8]}"  # nobody else's worker takes these tasks
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/"
        f"{db['NAME']}",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "medikeep",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "warning",
            "--without-mingle",
            "--without-gossip",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
        ],
        cwd=Path(settings.BASE_DIR),
        env=env,
    )
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=1):
            assert worker.poll() is None, "the Celery worker exited at start-up"
            assert time.monotonic() < deadline, "the Celery worker did not answer a ping in 60 s"
        yield queue
    finally:
        app.conf.task_always_eager = was_eager
        worker.terminate()
        worker.wait(timeout=20)


def test_task_round_trip_through_redis_and_the_database(worker_queue, alice):
    issue_tokens(alice)
    issue_tokens(alice)
    OutstandingToken.objects.filter(pk=OutstandingToken.objects.first().pk).update(
        expires_at=timezone.now() - timedelta(minutes=5)
    )
    result = flush_expired_tokens.apply_async(queue=worker_queue)
    assert result.get(timeout=30) == 1
    assert OutstandingToken.objects.count() == 1


def test_worker_heartbeat_reaches_the_shared_cache(worker_queue):
    cache.delete(WORKER_HEARTBEAT_KEY)
    stamp = record_worker_heartbeat.apply_async(queue=worker_queue).get(timeout=30)
    assert cache.get(WORKER_HEARTBEAT_KEY) == stamp
