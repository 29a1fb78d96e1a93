"""Celery bootstrap: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")

app = Celery("medikeep")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# medikeep.accounts is discovered by its label-free module path as well.
app.autodiscover_tasks(["medikeep.accounts"])
