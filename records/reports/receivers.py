"""A generated report's bytes go with its row, however the row goes: deleted through the API
or the admin, or with its patient or its user (cascades send post_delete per row too)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from records.models.reports import GeneratedReport

logger = logging.getLogger("medikeep")


@receiver(post_delete, sender=GeneratedReport, dispatch_uid="records.reports.delete_bytes")
def delete_report_bytes(sender, instance: GeneratedReport, using=None, **kwargs) -> None:
    key = instance.storage_key
    if key:
        # Only once the deletion has committed: a rolled-back delete keeps its PDF.
        transaction.on_commit(lambda: _delete(key), using=using)


def _delete(key: str) -> None:
    from records.reports.services import report_storage

    try:
        report_storage().delete(key)
    except OSError:
        logger.warning("Could not delete the stored report %s", key, exc_info=True)
