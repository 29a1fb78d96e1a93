"""MediKeep project package."""

VERSION = "0.1.0"

from medikeep.celery import app as celery_app  # noqa: E402  (Celery must load with Django)

__all__ = ["VERSION", "celery_app"]
