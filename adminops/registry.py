"""The models the admin API serves, and how their rows look there.

The registry IS the Django admin's: a model is reachable through /admin/models/{name} exactly
when it is registered with `django.contrib.admin.site`, and its ModelAdmin decides what the API
may do with it (view, add, change, delete permissions, read-only fields, search fields,
ordering). One registry serves both, so an operator never finds through the API what the
admin hides, or the other way round.

Names are the snake_case model names (`lab_result`, `entity_file`, `user`); `users` is also
accepted because the web app spells the password-reset path that way.

Rows are shown with every concrete column (a foreign key as `<name>_id`), never a credential:
a column named like a password, token, secret, key hash or encrypted configuration is left out
of the rows, the metadata, the CSV export, the activity log and what may be written.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import ModelAdmin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from rest_framework.exceptions import NotFound

from adminops.services import entity_type_of
from medikeep.api.exceptions import FieldValidationError
from patients.models import Patient

ALIASES = {"users": "user"}
# Columns that hold credentials, whatever the model. Booleans are never secrets (a flag like
# must_change_password says nothing an attacker can use).
SECRET_NAME = re.compile(
    r"password|passwd|secret|token|encrypted|api_?key|private_?key|(^|_)hash$", re.I
)
MAX_BIGINT = 2**63 - 1
# Lists and objects only go into JSON columns; anywhere else they are a type error (422).
SCALARS = (str, int, float, bool, type(None))
USE_DEFAULT = object()  # an empty value for a new row's column that has a default
BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


@dataclass(frozen=True)
class AdminModel:
    """A model registered in the Django admin, with its ModelAdmin."""

    name: str
    model: type[models.Model]
    admin: ModelAdmin

    @property
    def verbose_name(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def display_name(self) -> str:
        return self.verbose_name[:1].upper() + self.verbose_name[1:]

    @property
    def verbose_name_plural(self) -> str:
        plural = str(self.model._meta.verbose_name_plural)
        return plural[:1].upper() + plural[1:]


def admin_models() -> dict[str, AdminModel]:
    """Every registered model by its API name, sorted by name (read per call: the admin's
    registry is the truth, and reading ~50 entries costs microseconds)."""
    found = {
        entity_type_of(model): AdminModel(entity_type_of(model), model, model_admin)
        for model, model_admin in admin.site._registry.items()
    }
    return dict(sorted(found.items()))


def admin_model(name: str) -> AdminModel:
    """The registered model called `name` (or its alias); 404 for anything else."""
    entry = admin_models().get(ALIASES.get(name, name))
    if entry is None:
        raise NotFound(f"Unknown model '{name}': GET /admin/models/ lists the models.")
    return entry


# --- fields ---------------------------------------------------------------------------------


def is_secret(field: models.Field) -> bool:
    if field.is_relation or isinstance(field, models.BooleanField):
        return False
    return bool(SECRET_NAME.search(field.name))


def readable_fields(model: type[models.Model]) -> list[models.Field]:
    """The columns shown for a row: every concrete one except credentials and raw bytes."""
    return [
        field
        for field in model._meta.concrete_fields
        if not is_secret(field) and not isinstance(field, models.BinaryField)
    ]


_TYPES: list[tuple[type[models.Field], str]] = [
    (models.BooleanField, "boolean"),
    (models.DateTimeField, "datetime"),  # before DateField, its parent
    (models.DateField, "date"),
    (models.TimeField, "time"),
    (models.DurationField, "duration"),
    (models.AutoField, "integer"),
    (models.BigAutoField, "integer"),
    (models.SmallAutoField, "integer"),
    (models.IntegerField, "integer"),
    (models.DecimalField, "number"),
    (models.FloatField, "number"),
    (models.EmailField, "email"),
    (models.TextField, "text"),
    (models.JSONField, "json"),
    (models.UUIDField, "uuid"),
    (models.FileField, "file"),
    (models.GenericIPAddressField, "string"),
    (models.CharField, "string"),
]


def field_type(field: models.Field) -> str:
    """The contract's words (integer, string, date, datetime, text) plus those the web app's
    form renders specially (boolean, number, email, json)."""
    if field.is_relation:
        return field_type(field.target_field)
    for kind, name in _TYPES:
        if isinstance(field, kind):
            return name
    return "string"


def field_metadata(field: models.Field, *, writable: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": field.attname,
        "type": field_type(field),
        # What the web app's forms read as "may be left empty" (they refuse to send an empty
        # field that is not nullable): a column that takes NULL, blank text or a default.
        "nullable": not field.primary_key
        and bool(field.null or field.blank or field.has_default()),
        "primary_key": bool(field.primary_key),
        "required": not (field.blank or field.null or field.has_default() or field.primary_key),
        "editable": writable,
        "verbose_name": str(field.verbose_name),
    }
    if field.is_relation:
        target = field.related_model
        meta["foreign_key"] = f"{target._meta.db_table}.{field.target_field.column}"
        meta["related_model"] = entity_type_of(target)
    max_length = getattr(field, "max_length", None)
    if max_length:
        meta["max_length"] = max_length
    if field.choices:
        meta["choices"] = [str(value) for value, _label in field.flatchoices]
        meta["choice_labels"] = {str(value): str(label) for value, label in field.flatchoices}
    if field.help_text:
        meta["help_text"] = str(field.help_text)
    return meta


def writable_fields(entry: AdminModel, request, obj=None) -> dict[str, models.Field]:
    """What a create (obj None) or update may set, by column name and by field name: the
    editable columns the ModelAdmin does not make read-only, never a credential, never the
    primary key of an existing row (changing it would copy the row, not rename it)."""
    readonly = set(entry.admin.get_readonly_fields(request, obj))
    fields: dict[str, models.Field] = {}
    for field in entry.model._meta.concrete_fields:
        if (
            not field.editable
            or is_secret(field)
            or field.name in readonly
            or field.attname in readonly
            or (field.primary_key and (obj is not None or isinstance(field, models.AutoField)))
        ):
            continue
        fields[field.attname] = field
        fields[field.name] = field
    return fields


def model_summary(entry: AdminModel) -> dict[str, Any]:
    doc = (entry.model.__doc__ or "").strip()
    # Django writes "Name(id, field, …)" as the docstring of a model without one.
    description = "" if doc.startswith(f"{entry.model.__name__}(") else doc.split("\n\n")[0]
    return {
        "name": entry.name,
        "display_name": entry.display_name,
        "verbose_name_plural": entry.verbose_name_plural,
        "description": " ".join(description.split()),
        "app_label": entry.model._meta.app_label,
    }


def model_metadata(entry: AdminModel, request) -> dict[str, Any]:
    writable = writable_fields(entry, request)
    opts = entry.model._meta
    return {
        **model_summary(entry),
        "table_name": opts.db_table,
        "fields": [
            field_metadata(field, writable=field.attname in writable)
            for field in readable_fields(entry.model)
        ]
        + _password_entry(entry),
        "relationships": {
            field.name: field.related_model.__name__
            for field in opts.get_fields()
            if field.is_relation and field.related_model is not None and field.concrete
        },
        "search_fields": list(entry.admin.get_search_fields(request)),
        "permissions": {
            "view": entry.admin.has_view_or_change_permission(request),
            "add": entry.admin.has_add_permission(request),
            "change": entry.admin.has_change_permission(request),
            "delete": entry.admin.has_delete_permission(request),
        },
    }


def _password_entry(entry: AdminModel) -> list[dict[str, Any]]:
    # The web app's user form shows a password field as "reset password" when editing and
    # as the initial password when creating; the hash itself is never shown.
    if not is_user_model(entry.model):
        return []
    return [
        {
            "name": "password",
            "type": "password",
            "nullable": False,
            "primary_key": False,
            "required": False,
            "editable": False,
            "write_only": True,
            "verbose_name": "password",
            "help_text": "Set when creating a user; changed later only through "
            "POST /admin/models/users/{id}/reset-password.",
        }
    ]


def is_user_model(model) -> bool:
    from django.contrib.auth import get_user_model

    return model is get_user_model()


# --- rows -----------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A column's value as the JSON renderer and the CSV writer can take it."""
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, datetime):
        return value  # the renderer writes ISO 8601 with the offset ("Z" for UTC)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value) if isinstance(value, uuid.UUID) else value
    if isinstance(value, bytes | memoryview):
        return None
    return value


def record_json(obj: models.Model, fields: list[models.Field] | None = None) -> dict[str, Any]:
    """A row as the API shows it: every readable column, foreign keys as `<name>_id`."""
    fields = fields if fields is not None else readable_fields(type(obj))
    row = {field.attname: json_value(getattr(obj, field.attname)) for field in fields}
    if is_user_model(type(obj)) and "last_login" in row:
        row["last_login_at"] = row["last_login"]  # the web app's user list reads this name
    return row


def record_snapshot(obj: models.Model) -> dict[str, Any]:
    """The row's readable columns for the activity log (before/after of a change)."""
    return {field.attname: getattr(obj, field.attname) for field in readable_fields(type(obj))}


def patient_id_of(obj: models.Model) -> int | None:
    """The patient a row belongs to (a patient is its own), so its change shows in that
    patient's activity log; None for rows of no patient (users, the directory …)."""
    if isinstance(obj, Patient):
        return obj.pk
    value = getattr(obj, "patient_id", None)
    return value if isinstance(value, int) else None


# --- reading requests -----------------------------------------------------------------------


def pk_value(entry: AdminModel, raw: Any):
    """`raw` as the model's primary key takes it, or None when it cannot be one."""
    pk_field = entry.model._meta.pk
    if pk_field.is_relation:
        pk_field = pk_field.target_field
    if isinstance(raw, float) and not raw.is_integer():
        return None  # Django's int() would quietly make 1.5 the key 1
    try:
        value = pk_field.to_python(raw)
    except (ValidationError, TypeError, ValueError):
        return None
    if isinstance(value, int) and not -MAX_BIGINT <= value <= MAX_BIGINT:
        return None
    return value


def parse_pk(entry: AdminModel, raw: str):
    """The primary key a URL names, or 404 when it cannot be one."""
    value = pk_value(entry, raw)
    if value is None:
        raise NotFound(f"No {entry.name} with id '{raw}'.")
    return value


def get_record(entry: AdminModel, request, raw_pk: str) -> models.Model:
    obj = entry.admin.get_queryset(request).filter(pk=parse_pk(entry, raw_pk)).first()
    if obj is None:
        raise NotFound(f"No {entry.name} with id '{raw_pk}'.")
    return obj


def ordered_queryset(entry: AdminModel, request) -> models.QuerySet:
    """The admin's queryset in the admin's order, with the primary key as the tie-breaker so
    that pages never overlap."""
    ordering = list(entry.admin.get_ordering(request) or entry.model._meta.ordering or [])
    if not any(
        term.lstrip("-") in {"pk", "id", entry.model._meta.pk.name} for term in map(str, ordering)
    ):
        ordering.append("-pk")
    return entry.admin.get_queryset(request).order_by(*ordering)


def search(entry: AdminModel, request, queryset: models.QuerySet, term: str) -> models.QuerySet:
    """The admin's own search (its search_fields and lookups)."""
    term = term.strip()
    if not term:
        return queryset
    if not entry.admin.get_search_fields(request):
        raise FieldValidationError("search", f"Records of {entry.name} cannot be searched.")
    queryset, may_have_duplicates = entry.admin.get_search_results(request, queryset, term)
    return queryset.distinct() if may_have_duplicates else queryset


def _coerce(field: models.Field, value: Any, *, creating: bool) -> Any:
    if isinstance(field, models.JSONField):
        return value
    if not isinstance(value, SCALARS):
        raise ValidationError("Expected a single value, not a list or an object.")
    text_column = isinstance(field, models.CharField | models.TextField) and not field.is_relation
    if value == "" and text_column and not field.blank and creating and field.has_default():
        return USE_DEFAULT  # a choice left unpicked on a new row: its default
    if value == "" and not text_column:
        # Web forms send "" for an empty number, date or choice: that is no value.
        value = None
    if value is None:
        if field.null:
            return None
        if text_column and field.blank:
            return ""  # an optional text column stores "" for nothing, as the admin's form does
        if creating and field.has_default():
            return USE_DEFAULT
        raise ValidationError("This field cannot be empty.")
    target = field.target_field if field.is_relation else field
    if isinstance(value, bool) and not isinstance(target, models.BooleanField):
        raise ValidationError("Expected a value of this field's type, not true or false.")
    if isinstance(value, int | float) and isinstance(target, models.CharField | models.TextField):
        value = str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("Expected a finite number.")
    if (
        isinstance(value, float)
        and isinstance(target, models.IntegerField)
        and not value.is_integer()
    ):
        raise ValidationError("Expected a whole number.")
    if isinstance(target, models.BooleanField) and isinstance(value, str):
        value = BOOLEAN_WORDS.get(value.strip().lower(), value)
    parsed = target.to_python(value)
    if isinstance(parsed, int) and not isinstance(parsed, bool) and abs(parsed) > MAX_BIGINT:
        raise ValidationError("The number is too large.")
    if isinstance(parsed, datetime) and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)  # a form's local time, in the facility's zone
    return parsed


def parse_values(entry: AdminModel, request, data: Any, obj=None) -> dict[str, Any]:
    """The body of a create or update as {attname: value}: fields the ModelAdmin lets us
    write, converted to their types. Known columns that may not be written (read-only,
    timestamps, the id) are ignored: the web app's edit form sends the whole row back.
    Unknown names, passwords and values of the wrong type are a 422 naming the field."""
    if not isinstance(data, dict):
        raise FieldValidationError("non_field_errors", "Expected a JSON object of field values.")
    writable = writable_fields(entry, request, obj)
    known = {f.attname for f in entry.model._meta.concrete_fields if not is_secret(f)}
    known |= {f.name for f in entry.model._meta.concrete_fields if not is_secret(f)}
    if is_user_model(entry.model):
        known.add("last_login_at")
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, raw in data.items():
        field = writable.get(name)
        if field is None:
            if name in known:
                continue
            if SECRET_NAME.search(str(name)):
                message = "Passwords and other credentials cannot be set here."
                if is_user_model(entry.model) and obj is not None:
                    message += " Use POST /admin/models/users/{id}/reset-password."
                errors[str(name)] = [message]
            else:
                errors[str(name)] = [f"Unknown field: {entry.name} has no field '{name}'."]
            continue
        try:
            value = _coerce(field, raw, creating=obj is None)
            if value is not USE_DEFAULT:
                values[field.attname] = value
        except ValidationError as exc:
            errors[str(name)] = exc.messages
    if errors:
        from rest_framework.exceptions import ValidationError as ApiValidationError

        raise ApiValidationError(errors)
    return values
