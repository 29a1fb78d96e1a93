"""What one export writes: the patient, the scopes, the date range and the unit system; the
counts that decide what is written, and the values of each row as every format shows them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from patients.models import Patient
from records.export.scopes import ALL, Scope, Section, count_subquery
from records.export.units import IMPERIAL, converter, shown_unit, unit_of_help_text

# Rows fetched per round trip while streaming (PostgreSQL: a server-side cursor).
CHUNK_ROWS = 2000

# The patient's details written at the head of an export (when asked for), in this order.
PATIENT_FIELDS = (
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "blood_type",
    "height",
    "weight",
    "address",
    "phone_number",
    "email",
)


class NoData(Exception):
    """Nothing of the patient falls in the export (the API answers 404)."""


@dataclass
class ExportJob:
    patient_id: int
    scopes: list[Scope]
    start: date | None = None
    end: date | None = None
    unit_system: str = IMPERIAL
    include_patient_info: bool = True
    scope_value: str = ALL  # what was asked for ("all" or one scope), for names and headers
    _counts: dict | None = field(default=None, repr=False)
    _patient: dict | None = field(default=None, repr=False)

    # --- counts -------------------------------------------------------------------------

    def section_counts(self) -> dict[tuple[str, type], int]:
        """{(scope value, model): rows in the export}, in one query whatever the types."""
        if self._counts is None:
            self._counts = count_sections(self.patient_id, self.scopes, self.start, self.end)
        return self._counts

    def scope_count(self, scope: Scope) -> int:
        counts = self.section_counts()
        return sum(counts[(scope.value, section.model)] for section in scope.sections)

    @property
    def total(self) -> int:
        return sum(self.section_counts().values())

    def require_data(self) -> None:
        if self.total == 0:
            raise NoData("No data found for this export: no records in the chosen scope and dates.")

    def tables(self) -> Iterator[tuple[Scope, Section, object]]:
        """(scope, section, queryset) of every table that has rows, in export order."""
        counts = self.section_counts()
        for scope in self.scopes:
            for section, queryset in scope.querysets(self.patient_id, self.start, self.end):
                if counts[(scope.value, section.model)]:
                    yield scope, section, queryset

    def rows(self, scope: Scope, section: Section, queryset) -> Iterator[list]:
        """Each row's values with the unit conversion applied (a streaming read)."""
        converters = section.converters(self.unit_system)
        convert = [(i, fn) for i, fn in enumerate(converters) if fn is not None]
        for values in scope.rows(section, queryset).iterator(chunk_size=CHUNK_ROWS):
            row = list(values)
            for index, fn in convert:
                row[index] = fn(row[index])
            yield row

    # --- the patient --------------------------------------------------------------------

    def patient(self) -> dict:
        """The patient's details as {key: (label, value)}, units converted; the name always."""
        if self._patient is None:
            self._patient = patient_details(self.patient_id, self.unit_system)
        return self._patient

    @property
    def patient_name(self) -> str:
        details = self.patient()
        return f"{details['first_name'][1]} {details['last_name'][1]}".strip()


def count_sections(patient_id: int, scopes, start, end) -> dict[tuple[str, type], int]:
    annotations = {}
    keys = {}
    for scope in scopes:
        for index, (section, queryset) in enumerate(scope.querysets(patient_id, start, end)):
            alias = f"n_{scope.value}_{index}"
            keys[alias] = (scope.value, section.model)
            annotations[alias] = Coalesce(count_subquery(queryset), Value(0))
    if not annotations:
        return {}
    row = Patient.objects.filter(pk=patient_id).values(**annotations).first() or {}
    return {key: row.get(alias) or 0 for alias, key in keys.items()}


def patient_details(patient_id: int, unit_system: str) -> dict[str, tuple[str, object]]:
    patient = Patient.objects.select_related("physician").get(pk=patient_id)
    details: dict[str, tuple[str, object]] = {"id": ("ID", patient.pk)}
    for name in PATIENT_FIELDS:
        model_field = Patient._meta.get_field(name)
        label = str(model_field.verbose_name)
        label = label[:1].upper() + label[1:]
        value = getattr(patient, name)
        unit = unit_of_help_text(model_field.help_text)
        if unit:
            convert = converter(unit, unit_system)
            value = convert(value) if convert else value
            label = f"{label} ({shown_unit(unit, unit_system)})"
        if model_field.choices and value:
            value = getattr(patient, f"get_{name}_display")()
        details[name] = (label, value)
    details["physician"] = ("Primary care physician", getattr(patient.physician, "name", ""))
    return details


def plain(value):
    """A value as JSON shows it: dates and times in ISO 8601 (datetimes in the facility's
    zone, as the API writes them), everything else as stored."""
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # a time
        return value.isoformat()
    return value


def _iso(value):
    return None if value is None else value.isoformat()


def _local_iso():
    zone = timezone.get_current_timezone()

    def formatted(value):
        if value is None:
            return None
        return (value.astimezone(zone) if value.tzinfo else value).isoformat()

    return formatted


def plain_formatter(column_type: str):
    """plain() for one column, chosen once per table: rows are formatted by the hundred
    thousand, so the type tests are not repeated per cell. None = the value as stored."""
    if column_type == "datetime":
        return _local_iso()
    if column_type in ("date", "time"):
        return _iso
    return None


def as_text(value) -> str:
    """A value as a CSV or PDF cell shows it (before any spreadsheet neutralising)."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(
            str(item) if not isinstance(item, dict) else json.dumps(item) for item in value
        )
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
