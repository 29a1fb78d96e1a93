"""Report categories, derived from the record registry: no list of types here.

A category is what the web app's report builder calls one (medications, lab_results,
family_history, insurance …): the record kind's export scope. Where several record types share
a scope (a lab result and its components, a symptom and its occurrences, a family member and
their conditions), the category's records are the type the others point at (its root); the
others are its *children*, shown with their parent in a report and never selected by id on
their own (their ids live in another table, so one list of ids could not name both).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache

from django.db import models
from django.utils import timezone

from patients.models import PatientOwnedModel, record_models

# Columns that say nothing about the record itself (bookkeeping, links, the patient).
_BOOKKEEPING = {"id", "patient", "created_at", "updated_at"}
# Long free text is kept to the end of a record's details, and cut.
DETAIL_VALUE_CHARS = 160
SUMMARY_KEY_INFO_CHARS = 200


@dataclass(frozen=True)
class Child:
    model: type[PatientOwnedModel]
    parent_field: str  # the foreign key on the child that points at the root record


@dataclass(frozen=True)
class Category:
    name: str
    model: type[PatientOwnedModel]
    children: tuple[Child, ...] = field(default=())

    @property
    def kind(self):
        return self.model.kind

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def date_field(self) -> str | None:
        return self.model.kind.date


def _foreign_keys_to(model, targets) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.ForeignKey) and f.related_model in targets
    ]


@cache
def categories() -> dict[str, Category]:
    """Every report category by name, in the registry's order."""
    by_scope: dict[str, list] = {}
    for model in record_models():
        if model.kind is not None:
            by_scope.setdefault(model.kind.export_scope, []).append(model)
    found: dict[str, Category] = {}
    for scope, members in by_scope.items():
        roots = [m for m in members if not _foreign_keys_to(m, set(members) - {m})]
        for root in roots:
            children = tuple(
                Child(model=m, parent_field=name)
                for m in members
                if m is not root
                for name in _foreign_keys_to(m, {root})[:1]
            )
            # A lone root keeps the scope's name (the app's name for it); should a scope ever
            # hold two unrelated roots, each is known by its own plural.
            name = scope if len(roots) == 1 else root.kind.plural
            found[name] = Category(name=name, model=root, children=children)
    return found


# --- how a record reads in a summary and a report ------------------------------------------


def _plain(record, f, value):
    return value


def _choice(record, f, value):
    return record._get_FIELD_display(f)


def _boolean(record, f, value):
    return "yes" if value else None


def _moment(record, f, value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _number(record, f, value):
    return f"{value:g}" if isinstance(value, float) else value


def _converter(f):
    """How a column's value reads, chosen once per column rather than once per value."""
    if f.choices:
        return _choice
    if isinstance(f, models.BooleanField):
        return _boolean
    if isinstance(f, models.DateTimeField):
        return _moment
    if isinstance(f, models.FloatField):
        return _number
    return _plain


@cache
def detail_fields(model) -> tuple:
    """The model's own columns worth showing besides its title, date and status, in
    declaration order, free text (TextFields) last."""
    kind = model.kind
    skip = _BOOKKEEPING | {kind.title, kind.date, "status"}
    short, long = [], []
    for f in model._meta.concrete_fields:
        if f.name in skip or f.is_relation or not f.editable:
            continue
        if isinstance(f, models.JSONField | models.FileField):
            continue
        (long if isinstance(f, models.TextField) else short).append(f)
    return tuple(short + long)


def _label(f) -> str:
    text = str(f.verbose_name)
    return text[:1].upper() + text[1:]


@cache
def _detail_readers(model) -> tuple:
    return tuple((f.attname, f, _label(f), _converter(f)) for f in detail_fields(model))


def details(record, *, limit: int | None = None) -> str:
    """'Label: value · Label: value' of the record's filled-in detail columns."""
    parts = []
    for attname, f, label, convert in _detail_readers(type(record)):
        value = getattr(record, attname)
        if value is None or value == "" or value == [] or value == {}:
            continue
        value = convert(record, f, value)
        if value is None:
            continue
        value = str(value)
        if len(value) > DETAIL_VALUE_CHARS:
            value = value[: DETAIL_VALUE_CHARS - 1] + "…"
        parts.append(f"{label}: {value}")
        if limit is not None and len(parts) >= limit:
            break
    return " · ".join(parts)


def record_date(record, date_field: str | None) -> dt.date | None:
    if not date_field:
        return None
    value = getattr(record, date_field)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date()
    return value


def record_title(record) -> str:
    kind = type(record).kind
    value = getattr(record, kind.title, None)
    if value not in (None, ""):
        return str(value)
    return f"{kind.name.replace('_', ' ').capitalize()} #{record.pk}"


def record_status(record) -> str | None:
    if not hasattr(record, "status"):
        return None
    return record.status or None


def practitioner_name(record) -> str | None:
    if "practitioner" not in {f.name for f in record._meta.concrete_fields}:
        return None
    practitioner = record.practitioner
    return str(practitioner) if practitioner is not None else None


def with_practitioner(queryset):
    """select_related the practitioner where the type has one (one query, not one a row)."""
    model = queryset.model
    if any(f.name == "practitioner" for f in model._meta.concrete_fields):
        return queryset.select_related("practitioner")
    return queryset
