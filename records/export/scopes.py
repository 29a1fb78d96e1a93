"""Export scopes: the record types grouped as people choose them ("lab_results" = results and
their components), each type's columns, and the rows of one patient.

Everything here is derived from the record registry (`record_models()` and `model.kind`):
adding a record type with a kind adds it to exports. The two directory scopes
(practitioners, pharmacies) are the shared directory entries the patient's records point at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache

from django.conf import settings
from django.db import models
from django.db.models import F, Func, Q

from patients.models import Patient, record_models
from records.export.units import converter, shown_unit, unit_of_help_text

# Columns never exported: the patient is the export's subject, the tag index mirrors `tags`.
INTERNAL_FIELDS = frozenset({"patient", "tag_index"})
TRAILING = ("tags", "created_at", "updated_at")


@dataclass(frozen=True)
class Column:
    key: str  # the name the record API gives the field (JSON key)
    label: str  # the header people read
    lookup: str  # what values_list() reads
    type: str  # text | number | bool | date | datetime | time | json
    unit: str = ""  # the stored unit of a measurement
    wide: bool = False  # free text or structured data: a PDF shows it under "Details"

    def header(self, unit_system: str) -> str:
        unit = shown_unit(self.unit, unit_system)
        return f"{self.label} ({unit})" if unit else self.label


@dataclass(frozen=True)
class Section:
    """One model's table inside a scope."""

    model: type
    label: str
    columns: tuple[Column, ...]
    # The date the date range applies to ("completed_date", or the parent's for a child type
    # without its own date: "lab_result__completed_date"); None = the type is not dated.
    date_lookup: str | None = None
    date_is_datetime: bool = False

    def headers(self, unit_system: str) -> list[str]:
        return [column.header(unit_system) for column in self.columns]

    @property
    def keys(self) -> list[str]:
        return [column.key for column in self.columns]

    @property
    def type_name(self) -> str:
        """The record type as search results name it ("lab_result"), for JSON rows."""
        kind = getattr(self.model, "kind", None)
        return kind.name if kind is not None else self.model._meta.model_name

    def units(self, unit_system: str) -> dict[str, str]:
        """{key: unit} of the measurement columns, as written in this export."""
        return {c.key: shown_unit(c.unit, unit_system) for c in self.columns if c.unit}

    def converters(self, unit_system: str) -> list:
        return [converter(column.unit, unit_system) for column in self.columns]


@dataclass(frozen=True)
class Scope:
    value: str
    label: str
    description: str
    sections: tuple[Section, ...]
    # Directory scopes: the foreign keys (model, field name) whose targets are exported.
    links: tuple[tuple[type, str], ...] = field(default=())

    @property
    def is_directory(self) -> bool:
        return bool(self.links)

    @property
    def is_dated(self) -> bool:
        return any(section.date_lookup for section in self.sections)

    def querysets(self, patient_id: int, start: date | None = None, end: date | None = None):
        """[(section, queryset of that section's rows for the patient, in range)]."""
        return [(s, self._queryset(s, patient_id, start, end)) for s in self.sections]

    def _queryset(self, section: Section, patient_id: int, start, end):
        model = section.model
        if model is Patient:
            return Patient.objects.filter(pk=patient_id)
        if self.is_directory:
            # The directory is not dated: every entry the patient's records point at.
            return model._default_manager.filter(_linked(self.links, patient_id)).order_by("id")
        rows = model._default_manager.filter(patient_id=patient_id)
        if (start or end) and section.date_lookup:
            rows = rows.filter(
                date_range_q(section.date_lookup, section.date_is_datetime, start, end)
            )
        return rows

    def rows(self, section: Section, queryset):
        """Tuples of the section's column values (one query, related names joined)."""
        return queryset.values_list(*(column.lookup for column in section.columns))


def _linked(links, patient_id: int) -> Q:
    linked = Q(pk__in=[])
    for model, name in links:
        if model is Patient:
            subquery = Patient.objects.filter(pk=patient_id).values(name)
        else:
            subquery = model._default_manager.filter(
                patient_id=patient_id, **{f"{name}__isnull": False}
            ).values(name)
        linked |= Q(pk__in=subquery)
    return linked


def date_range_q(lookup: str, is_datetime: bool, start, end) -> Q:
    """Records whose date is in [start, end]; a record without its date is placed by the day
    it was entered (otherwise undated medications would vanish from every dated export)."""
    suffix = "__date" if is_datetime else ""
    own = Q()
    entered = Q(**{f"{lookup}__isnull": True})
    if start:
        own &= Q(**{f"{lookup}{suffix}__gte": start})
        entered &= Q(created_at__date__gte=start)
    if end:
        own &= Q(**{f"{lookup}{suffix}__lte": end})
        entered &= Q(created_at__date__lte=end)
    return own | entered


def count_subquery(queryset):
    """SELECT COUNT(id) of a queryset, to be used as a subquery (no GROUP BY needed)."""
    return queryset.order_by().annotate(_n=Func(F("pk"), function="COUNT")).values("_n")[:1]


# --- columns --------------------------------------------------------------------------------


def _label(text) -> str:
    text = str(text)
    return text[:1].upper() + text[1:]


def _field_type(model_field) -> str:
    if isinstance(model_field, models.BooleanField):
        return "bool"
    if isinstance(model_field, models.DateTimeField):
        return "datetime"
    if isinstance(model_field, models.DateField):
        return "date"
    if isinstance(model_field, models.TimeField):
        return "time"
    if isinstance(model_field, models.IntegerField | models.FloatField | models.DecimalField):
        return "number"
    if isinstance(model_field, models.JSONField):
        return "json"
    return "text"


def _is_wide(model_field) -> bool:
    if isinstance(model_field, models.TextField | models.JSONField):
        return True
    return isinstance(model_field, models.CharField) and (model_field.max_length or 0) > 150


def name_field_of(model) -> str | None:
    """The field that names an entry of `model` (a record's kind title, a directory's name)."""
    kind = getattr(model, "kind", None)
    if kind is not None:
        return kind.title
    names = [f.name for f in model._meta.concrete_fields if isinstance(f, models.CharField)]
    if "name" in names:
        return "name"
    return next((name for name in names if name.endswith("name")), None)


def columns_of(model) -> tuple[Column, ...]:
    """The model's fields in declaration order, named as its API names them; a foreign key
    gives `<name>_id` and, joined in the same query, `<name>_name`."""
    kind = getattr(model, "kind", None)
    units = dict(kind.units) if kind is not None else {}
    columns: list[Column] = []
    for model_field in model._meta.concrete_fields:
        if model_field.name in INTERNAL_FIELDS:
            continue
        label = _label(model_field.verbose_name)
        if model_field.is_relation:
            target = model_field.related_model
            if target._meta.label == settings.AUTH_USER_MODEL:
                continue  # who typed a directory entry is not part of anyone's record
            columns.append(
                Column(f"{model_field.name}_id", f"{label} ID", model_field.attname, "number")
            )
            name = name_field_of(target)
            if name:
                columns.append(
                    Column(f"{model_field.name}_name", label, f"{model_field.name}__{name}", "text")
                )
            continue
        label = "ID" if model_field.primary_key else label
        unit = units.get(model_field.name) or unit_of_help_text(model_field.help_text)
        columns.append(
            Column(
                model_field.name,
                label,
                model_field.name,
                _field_type(model_field),
                unit,
                wide=_is_wide(model_field),
            )
        )
    # A table starts with what a row is about (id, then its name) and ends, as the API lists,
    # with the tags and timestamps that base classes declare first.
    title = name_field_of(model)

    def place(column: Column) -> int:
        if column.key == "id":
            return 0
        if column.key == title:
            return 1
        return 3 if column.key in TRAILING else 2

    return tuple(sorted(columns, key=place))  # stable: declaration order within each group


# --- scopes ---------------------------------------------------------------------------------


def _section(model, scope_models) -> Section:
    kind = model.kind
    label = _label(model._meta.verbose_name_plural)
    if kind.date:
        is_datetime = isinstance(model._meta.get_field(kind.date), models.DateTimeField)
        return Section(model, label, columns_of(model), kind.date, is_datetime)
    # A child without a date of its own follows its parent's (lab components, their result).
    for model_field in model._meta.concrete_fields:
        parent = model_field.related_model if model_field.many_to_one else None
        if parent in scope_models and parent.kind.date:
            parent_date = parent._meta.get_field(parent.kind.date)
            return Section(
                model,
                label,
                columns_of(model),
                f"{model_field.name}__{parent.kind.date}",
                isinstance(parent_date, models.DateTimeField),
            )
    return Section(model, label, columns_of(model))


def _record_scopes() -> list[Scope]:
    grouped: dict[str, list[type]] = {}
    for model in record_models():
        if model.kind is not None:
            grouped.setdefault(model.kind.export_scope, []).append(model)
    made = []
    for value, members in grouped.items():
        sections = tuple(_section(model, members) for model in members)
        description = ", ".join(str(m._meta.verbose_name_plural) for m in members)
        made.append(Scope(value, _label(value.replace("_", " ")), _label(description), sections))
    return made


def _directory_scope(model, value: str) -> Scope:
    """The entries of a directory type that the patient's records (or the patient) point at."""
    links = tuple(
        (owner, f.name)
        for owner in [Patient, *record_models()]
        for f in owner._meta.concrete_fields
        if f.many_to_one and f.related_model is model
    )
    label = _label(model._meta.verbose_name_plural)
    section = Section(model, label, columns_of(model))
    return Scope(value, label, f"{label} named in the patient's records", (section,), links)


def _directory_models() -> list[type]:
    # Directory entries that records point at and that people look up: the doctors and
    # pharmacies (catalogues such as injury types or vaccines are not the patient's data).
    from records.models import Pharmacy, Practitioner

    return [Practitioner, Pharmacy]


# The patient's own details as a scope of their own: the web app's single export starts on it.
PATIENT = "patient"


def _patient_scope() -> Scope:
    section = Section(Patient, "Patient", columns_of(Patient))
    return Scope(PATIENT, "Patient", "The patient's own details", (section,))


@cache
def all_scopes() -> dict[str, Scope]:
    """Every export scope by value, in the order the registry lists the types."""
    made = [_patient_scope(), *_record_scopes()]
    for model in _directory_models():
        made.append(_directory_scope(model, str(model._meta.verbose_name_plural).replace(" ", "_")))
    return {scope.value: scope for scope in sorted(made, key=lambda s: s.value)}


ALL = "all"


def every_record_scope() -> list[Scope]:
    """What "all" exports: every scope but the patient's details, which head the export
    whenever include_patient_info asks for them."""
    return [scope for value, scope in all_scopes().items() if value != PATIENT]


def find_scope(value: str) -> Scope | None:
    return all_scopes().get(value)


def scope_of_record_type(record_type: str) -> Scope | None:
    """A record type as URLs name it: a scope ("lab_results", "lab-results") or a record
    route's prefix ("family-members" → family_history, the scope that holds the type)."""
    from patients.core.routing import RECORD_ROUTES

    found = find_scope(record_type) or find_scope(record_type.replace("-", "_"))
    if found is not None:
        return found
    for route in RECORD_ROUTES:
        kind = getattr(route.model, "kind", None)
        if route.prefix == record_type and kind is not None:
            return find_scope(kind.export_scope)
    return None
