"""Admin changes in the activity log: those made in the Django admin and through the admin
API, by one path.

Both log every change through the model's ModelAdmin (`log_addition`, `log_change`,
`log_deletions`), which writes a `django.contrib.admin` LogEntry naming the operator;
adminops/receivers.py hands each new entry to `record_log_entry`, which writes the
activity-log row once the change commits. The Django admin cannot tell us the values before a
change; the admin API can, and passes them (and the request's address) in `admin_changes`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.core.exceptions import ValidationError
from django.db import models, transaction

from adminops import services
from adminops.registry import patient_id_of, record_snapshot
from medikeep.middleware import client_ip
from patients.choices import RecordAction

logger = logging.getLogger("adminops.activity")

ACTIONS = {
    ADDITION: RecordAction.CREATED,
    CHANGE: RecordAction.UPDATED,
    DELETION: RecordAction.DELETED,
}


@dataclass
class _Details:
    ip_address: str | None
    before: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


_details: ContextVar[_Details | None] = ContextVar("adminops_admin_changes", default=None)


def _key(model: type[models.Model], pk: Any) -> tuple[str, str]:
    return model._meta.label_lower, str(pk)


@contextmanager
def admin_changes(request) -> Iterator[None]:
    """Log entries written inside carry the request's address (the admin API's changes)."""
    token = _details.set(_Details(ip_address=client_ip(request) or None))
    try:
        yield
    finally:
        _details.reset(token)


def remember_before(obj: models.Model, before: dict[str, Any]) -> None:
    """The row's values before the change the next log entry for it reports."""
    details = _details.get()
    if details is not None:
        details.before[_key(type(obj), obj.pk)] = before


def _logged_object(model: type[models.Model], object_id: str | None) -> models.Model | None:
    if object_id is None:
        return None
    try:
        return model._base_manager.filter(pk=object_id).first()
    except (ValueError, TypeError, ValidationError):
        return None


def record_log_entry(entry: LogEntry) -> None:
    """Schedules the activity row of one admin log entry (addition, change or deletion).

    A deletion is logged before the row goes, so its values are still there to keep. The
    row is written after the commit, like every activity row: a rolled-back change leaves
    none, and a failure to write it never undoes the change.
    """
    action = ACTIONS.get(entry.action_flag)
    model = entry.content_type.model_class() if entry.content_type_id else None
    if action is None or model is None:
        return
    obj = _logged_object(model, entry.object_id)
    if obj is None:
        return
    snapshot = record_snapshot(obj)
    details = _details.get()
    before = details.before.pop(_key(model, obj.pk), None) if details else None
    if action == RecordAction.CREATED:
        before, after = None, snapshot
    elif action == RecordAction.DELETED:
        before, after = snapshot, None
    else:
        after = snapshot
    arguments = {
        "user": entry.user,
        "instance": obj,
        "action": action,
        "before": before,
        "after": after,
        "patient_id": patient_id_of(obj),
        "ip_address": details.ip_address if details else None,
    }
    transaction.on_commit(lambda: _write(arguments))


def _write(arguments: dict[str, Any]) -> None:
    try:
        services.activity_record(**arguments)
    except Exception:
        instance = arguments["instance"]
        logger.exception(
            "activity log: could not record the admin's %s of %s %s",
            arguments["action"],
            type(instance).__name__,
            instance.pk,
        )
