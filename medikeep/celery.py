"""Celery bootstrap: configuration comes from Django settings (CELERY_*)."""

import logging
import os
import warnings

from celery import Celery, signals
from celery.exceptions import SecurityWarning

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")

app = Celery("medikeep")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# medikeep.accounts is discovered by its label-free module path as well.
app.autodiscover_tasks(["medikeep.accounts"])

ROOT_WORKER = (
    "The worker runs as root: fine for trying MediKeep out, not for a deployment "
    "(docs/deploy.md runs it as its own user)."
)


# Celery's warning about running as root is nine lines on every start of `make run` (often
# as root in a container); one line says the same (worker_as_root below).
def silence_root_warning() -> None:
    warnings.filterwarnings(
        "ignore", message=r"You're running the worker with superuser", category=SecurityWarning
    )


silence_root_warning()


@signals.celeryd_after_setup.connect
def worker_as_root(sender=None, **kwargs) -> bool:
    """Logs one line when the worker runs as root; True when it did."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        logging.getLogger("medikeep.worker").warning(ROOT_WORKER)
        return True
    return False


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def worker_json_lines(logger=None, **kwargs) -> None:
    """With LOG_FORMAT=json the worker's own lines (Celery sets up its handlers itself) are
    JSON lines as well."""
    from django.conf import settings

    from medikeep.logs import JsonLineFormatter

    if logger is not None and getattr(settings, "LOG_FORMAT", "plain") == "json":
        for handler in logger.handlers:
            handler.setFormatter(JsonLineFormatter())
