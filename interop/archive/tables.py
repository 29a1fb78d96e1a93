"""Which tables a whole-account archive carries, found through the app registry.

Nothing here names a record type: patients, every record model (`record_models()`), every link
table (PatientLinkModel subclasses), the rows that hang off a record without being one (a
medication's dose log), the user's own tables (tags, notification channels and preferences)
and the files. The reference library the records point at (directory entries, catalogue
entries) is found by following foreign keys and travels separately: on import it is matched,
not copied blindly.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models.fields.files import FieldFile

from patients.core.links import PatientLinkModel
from patients.models import Patient, PatientOwnedModel, PatientPhoto, record_models

# Tables of the user's own settings that travel with the account. Named by label because they
# are the account's, not patient data: there is no registry of them to ask.
USER_TABLES = (
    "accounts.userpreference",
    "records.usertag",
    "notifications.notificationchannel",
    "notifications.notificationpreference",
)
FILE_TABLE = "files.entityfile"
IDENTIFIER_TABLE = "interop.externalidentifier"
# Never carried: anything that holds a credential or its encrypted form.
SECRET_MARKERS = ("secret", "encrypted", "password", "token_hash")


def label_of(model) -> str:
    return model._meta.label_lower


@dataclass(frozen=True)
class Table:
    """One table of the archive: `role` says how import treats it."""

    label: str
    role: str  # "patient", "record", "link", "dependent", "photo", "file", "identifier", "user"

    @property
    def model(self):
        return apps.get_model(self.label)

    @property
    def member(self) -> str:
        return f"data/{self.label}.json"


@cache
def dependent_models() -> tuple[type[models.Model], ...]:
    """Models whose rows belong to a record through a required foreign key but are neither
    records nor links (the dose log of a medication): they go wherever the record goes.
    Other apps' rows that merely point at a record (sharing, portals) are not the owner's
    data and stay behind."""
    records = set(record_models())
    found = []
    for model in apps.get_models():
        if model in records or issubclass(model, PatientLinkModel):
            continue
        if model._meta.app_label != "records":
            continue
        if any(
            f.is_relation and f.many_to_one and not f.null and f.related_model in records
            for f in model._meta.concrete_fields
        ):
            found.append(model)
    return tuple(sorted(found, key=label_of))


@cache
def link_models() -> tuple[type[PatientLinkModel], ...]:
    return tuple(
        sorted(
            (
                m
                for m in apps.get_models()
                if issubclass(m, PatientLinkModel) and not m._meta.abstract
            ),
            key=label_of,
        )
    )


@cache
def tables() -> tuple[Table, ...]:
    """Every table the archive carries, in export order (import computes its own order)."""
    found = [Table(label_of(Patient), "patient"), Table(label_of(PatientPhoto), "photo")]
    found += [Table(label_of(m), "record") for m in sorted(record_models(), key=label_of)]
    found += [Table(label_of(m), "link") for m in link_models()]
    found += [Table(label_of(m), "dependent") for m in dependent_models()]
    found += [Table(label, "user") for label in USER_TABLES]
    found += [Table(FILE_TABLE, "file"), Table(IDENTIFIER_TABLE, "identifier")]
    return tuple(found)


def table_for(label: str) -> Table | None:
    return next((t for t in tables() if t.label == label), None)


def owned_rows(table: Table, user, patient_ids: list[int]) -> models.QuerySet:
    """The rows of `table` that belong to `user` (their patients' data, their own settings)."""
    model = table.model
    manager = model._default_manager
    if table.role == "patient":
        return manager.filter(owner=user).order_by("pk")
    if table.role in ("photo", "record", "identifier"):
        return manager.filter(patient_id__in=patient_ids).order_by("pk")
    if table.role == "file":
        # Files in the trash are on their way out and stay behind.
        return manager.filter(patient_id__in=patient_ids, trashed_at__isnull=True).order_by("pk")
    if table.role == "link":
        first = model.link_sides[0]
        return manager.filter(**{f"{first}__patient_id__in": patient_ids}).order_by("pk")
    if table.role == "dependent":
        field = next(
            f
            for f in model._meta.concrete_fields
            if f.is_relation and f.many_to_one and not f.null and f.related_model in record_models()
        )
        return manager.filter(**{f"{field.name}__patient_id__in": patient_ids}).order_by("pk")
    return manager.filter(user=user).order_by("pk")


def is_secret(field) -> bool:
    return any(marker in field.name for marker in SECRET_MARKERS)


def carried_fields(model) -> list:
    """The concrete fields an archive row holds: everything but credentials."""
    return [f for f in model._meta.concrete_fields if not is_secret(f)]


def is_fk(field) -> bool:
    """A foreign key or one-to-one: a column holding another row's id."""
    return bool(field.is_relation and (field.many_to_one or field.one_to_one))


def relation_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if is_fk(f)]


def is_user_model(model) -> bool:
    return model is get_user_model()


def is_reference(model) -> bool:
    """Shared reference data (directory, catalogues): matched on import, never owned."""
    carried = {t.label for t in tables()}
    return not (
        label_of(model) in carried
        or is_user_model(model)
        or issubclass(model, PatientOwnedModel | PatientLinkModel)
    )


# --- values as JSON --------------------------------------------------------------------------


def dump_value(value):
    if isinstance(value, FieldFile):
        return value.name or None  # the bytes travel as a member of their own
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, memoryview | bytes):
        return bytes(value).hex()
    return value


def load_value(field, value):
    if value is None or isinstance(field, models.JSONField):
        return value
    if isinstance(field, models.DurationField):
        return dt.timedelta(seconds=value)
    if isinstance(field, models.BinaryField):
        return bytes.fromhex(value)
    if isinstance(field, models.FileField):
        return value
    return field.to_python(value)


def row_of(obj, fields) -> dict:
    return {f.attname: dump_value(getattr(obj, f.attname)) for f in fields}
