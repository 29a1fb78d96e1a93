"""Writing browser-side events into the server log (secrets scrubbed first) and writing the
activity log."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q

from adminops.models import ActivityLog
from patients.choices import RecordAction
from patients.models import Patient

frontend_logger = logging.getLogger("adminops.frontend")

REDACTED = "[REDACTED]"

# Keys whose values are credentials wherever they appear ("X-Api-Key", "refresh_token", …).
SENSITIVE_KEY = re.compile(r"password|passwd|token|secret|authorization|cookie|api[_-]?key", re.I)
# A JWT is three base64url segments; its header is a JSON object, so it always starts "eyJ".
# Requiring that prefix keeps dotted names in stack traces ("Component.render.call") readable.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]+", re.I)
# Credentials in query strings of logged URLs: "?token=abc&page=2".
_QUERY_SECRET = re.compile(
    r"(\b[\w-]*(?:password|passwd|token|secret|api[_-]?key)[\w-]*=)[^&#\s]+", re.I
)

LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "critical": logging.CRITICAL,
}


def redact_text(text: str) -> str:
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    return _QUERY_SECRET.sub(rf"\1{REDACTED}", text)


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with credential-named keys and token-like strings masked.

    Recursion is safe: request serializers cap nesting depth before anything reaches here.
    """
    if isinstance(value, dict):
        return {
            key: REDACTED if SENSITIVE_KEY.search(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def frontend_event_log(
    *,
    event: str,
    level: int,
    fields: dict[str, Any],
    user_id: int | None,
    client_ip: str,
) -> None:
    """Writes one browser event as a single log line.

    `user_id` is who the server authenticated; whatever id the browser sent is kept apart as
    `claimed_user_id`, so a forged body cannot attribute an event to someone else. The record
    is JSON-encoded, ASCII only, so no line break in client text (not even U+2028) can forge
    extra log lines.
    """
    data = {key: value for key, value in fields.items() if value not in (None, "", {}, [])}
    claimed = data.pop("user_id", None)
    record = {
        "event": event,
        "user_id": user_id,
        "claimed_user_id": claimed,
        "ip": client_ip,
        **redact(data),
    }
    encoded = json.dumps(record, default=str, sort_keys=True)
    frontend_logger.log(level, "frontend %s %s", event, encoded)


# --- activity log ---------------------------------------------------------------------------

# Timestamps that change on every save say nothing about what the user changed.
_NOISE_FIELDS = frozenset({"updated_at"})
_ENCODER = DjangoJSONEncoder()


def entity_type_of(model: type[models.Model]) -> str:
    """snake_case of the model name: LabResult -> "lab_result", LOINCTest -> "loinc_test"."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", model.__name__)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _jsonable(value: Any) -> Any:
    """The value itself when the JSON field can store it, else its text (FieldFile …)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # PostgreSQL's jsonb refuses NaN and Infinity
    try:
        _ENCODER.encode(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _clean_snapshot(snapshot: dict | None) -> dict | None:
    if snapshot is None:
        return None
    return {str(key): _jsonable(value) for key, value in snapshot.items()}


def _change_metadata(action: str, before: dict | None, after: dict | None) -> dict[str, Any]:
    before, after = _clean_snapshot(before), _clean_snapshot(after)
    if action == RecordAction.UPDATED and before is not None and after is not None:
        changed = [
            key
            for key in after
            if key not in _NOISE_FIELDS and (key not in before or before[key] != after[key])
        ]
        return {
            "before": {key: before.get(key) for key in changed},
            "after": {key: after[key] for key in changed},
            "changed": changed,
        }
    return {"before": before, "after": after, "changed": []}


def _label(instance: models.Model) -> str:
    # __str__ of a deleted row may follow a relation that is gone; the audit line must not fail.
    try:
        return str(instance)
    except Exception:
        return f"#{instance.pk}"


def _describe(action: str, instance: models.Model, label: str) -> str:
    verb = action.replace("_", " ").capitalize()
    return f"{verb} {instance._meta.verbose_name.title()}: {label}"


def _patient_label(patient_id: int) -> str | None:
    """The patient's name, or None when the patient no longer exists."""
    names = Patient.objects.filter(pk=patient_id).values_list("first_name", "last_name").first()
    return None if names is None else " ".join(filter(None, names))


def activity_erase_patient(*, patient_id: int) -> int:
    """Deletes every activity row about a patient (its records and the patient itself).

    Called inside the transaction that deletes the patient, so both happen or neither.
    Returns how many rows went.
    """
    deleted, _ = ActivityLog.objects.filter(
        Q(patient_id=patient_id) | Q(entity_type=entity_type_of(Patient), entity_id=patient_id)
    ).delete()
    return deleted


def activity_record(
    *,
    user,
    instance: models.Model,
    action: str,
    before: dict | None = None,
    after: dict | None = None,
    patient_id: int | None = None,
    ip_address: str | None = None,
) -> ActivityLog | None:
    """Writes the activity row for one change announced by `record_changed`.

    The deletion of a patient keeps no data: its earlier rows are erased and one row
    "Deleted Patient: <name>" without before/after and without the patient link stays.
    A change of a record whose patient is already gone writes nothing (it was erased with
    the patient). Returns the row written, if any.
    """
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    entity_id = (
        instance.pk if instance.pk is not None else (before or {}).get(instance._meta.pk.attname)
    )
    if not isinstance(entity_id, int):
        entity_id = None  # a text key (a system setting's name) is in the description instead
    label = _label(instance)
    fields: dict[str, Any] = {
        "user_id": user_id,
        "action": action,
        "entity_type": entity_type_of(type(instance)),
        "entity_id": entity_id,
        "description": _describe(action, instance, label),
        "ip_address": ip_address or None,
    }
    if isinstance(instance, Patient):
        entity_id = entity_id if entity_id is not None else patient_id
        fields["entity_id"] = entity_id
        fields["patient_label"] = label
        if action == RecordAction.DELETED:
            with transaction.atomic():
                if entity_id is not None:
                    # Normally done already inside the deleting transaction (receivers.py);
                    # repeated as a backstop, it costs one DELETE that usually finds nothing.
                    activity_erase_patient(patient_id=entity_id)
                return ActivityLog.objects.create(patient_id=None, metadata={}, **fields)
        fields["patient_id"] = entity_id
    else:
        patient_label = _patient_label(patient_id) if patient_id is not None else ""
        if patient_label is None:
            return None
        fields["patient_id"] = patient_id
        fields["patient_label"] = patient_label
    return ActivityLog.objects.create(metadata=_change_metadata(action, before, after), **fields)
