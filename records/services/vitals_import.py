"""Importing vitals exported by a device's software (web-client-api.md §5.10).

A small registry of parsers, one per device: each turns the export's text into readings.
`import_preview` reads a file and writes nothing; `import_execute` stores the new readings in
one transaction (bulk_create), marked with the device's `import_source`;
`delete_imported_day` removes one imported day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from records.models import MEASURES, Vitals
from records.models.vitals import EARLIEST_YEAR, FUTURE_TOLERANCE
from records.search.index import reindex

MAX_FILE_BYTES = 10 * 1024 * 1024
PREVIEW_ROWS = 50
ERRORS_SHOWN = 50
BATCH_SIZE = 1000
MMOL_TO_MG = 18.0182


class ImportFileError(ValueError):
    """The file cannot be read as this device's export (a 400 for the client)."""


@dataclass(frozen=True)
class Reading:
    recorded_date: dt.datetime
    blood_glucose: float
    device_used: str


@dataclass
class ParseResult:
    readings: list[Reading] = field(default_factory=list)
    skipped_rows: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Device:
    key: str  # stored as the readings' import_source
    name: str
    parse: Callable[[str], ParseResult]


# --- Dexcom Clarity ---------------------------------------------------------------------------


def _column(header: list[str], prefix: str) -> int | None:
    """The index of the column whose name starts with `prefix` ("Glucose Value (mg/dL)")."""
    wanted = prefix.lower()
    return next(
        (i for i, name in enumerate(header) if name.strip().lower().startswith(wanted)), None
    )


def _local(moment: dt.datetime) -> dt.datetime:
    # Clarity writes the device's local time without an offset: facility time, as for any
    # naive reading.
    if timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def parse_dexcom_clarity(text: str) -> ParseResult:
    """Clarity's CSV export: a header row, a few patient/device rows, then one row per
    event. Glucose readings are the "EGV" rows; "Low" and "High" (beyond the sensor's range,
    no number) are skipped with a warning; values outside 20–800 mg/dL are skipped too."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if not header:
        raise ImportFileError("The file is empty.")
    columns = {name: _column(header, name) for name in ("Timestamp", "Event Type", "Glucose Value")}
    missing = [name for name, index in columns.items() if index is None]
    if missing:
        raise ImportFileError(
            "This is not a Dexcom Clarity export: the columns "
            f"{', '.join(missing)} are missing (it needs Timestamp, Event Type, Glucose Value)."
        )
    glucose_name = header[columns["Glucose Value"]].lower()
    factor = MMOL_TO_MG if "mmol" in glucose_name else 1.0
    device_index = _column(header, "Device Info")
    low, high = MEASURES["blood_glucose"].low, MEASURES["blood_glucose"].high
    result = ParseResult()
    device = "Dexcom CGM"
    out_of_sensor_range = 0
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, row=row) -> str:
            index = columns[name]
            return row[index].strip() if index is not None and index < len(row) else ""

        event = cell("Event Type").lower()
        if event == "device" and device_index is not None and device_index < len(row):
            device = (row[device_index].strip() or device)[:100]
        if event != "egv":
            result.skipped_rows += 1
            continue
        raw_value, raw_time = cell("Glucose Value"), cell("Timestamp")
        if raw_value.lower() in ("low", "high"):
            out_of_sensor_range += 1
            result.skipped_rows += 1
            continue
        try:
            moment = parse_datetime(raw_time.replace(" ", "T", 1))
        except ValueError:
            moment = None
        try:
            value = round(float(raw_value) * factor, 1)
        except ValueError:
            value = None
        if moment is None or value is None:
            result.skipped_rows += 1
            what = "timestamp" if moment is None else "glucose value"
            result.errors.append(f"Row {line}: unreadable {what}.")
            continue
        if not low <= value <= high:
            result.skipped_rows += 1
            result.errors.append(
                f"Row {line}: glucose {value:g} mg/dL is outside {low:g}–{high:g} mg/dL."
            )
            continue
        result.readings.append(Reading(_local(moment), value, device))
    if out_of_sensor_range:
        result.warnings.append(
            f"{out_of_sensor_range} readings reported as Low or High (beyond the sensor's "
            "range, without a number) were skipped."
        )
    if factor != 1.0:
        result.warnings.append("Values were converted from mmol/L to mg/dL.")
    return result


DEVICES: dict[str, Device] = {
    device.key: device
    for device in (Device("dexcom_clarity", "Dexcom Clarity (CSV)", parse_dexcom_clarity),)
}


# --- reading a file and the two steps --------------------------------------------------------


def device_for(key: str) -> Device:
    try:
        return DEVICES[(key or "").strip()]
    except KeyError:
        known = ", ".join(DEVICES)
        raise ImportFileError(f"Unknown device {key!r}; known devices: {known}.") from None


def decode(data: bytes) -> str:
    """Text of an export: UTF-8 (with or without BOM), else Latin-1; binary files refused."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError("The file is larger than 10 MB.")
    if b"\x00" in data:
        raise ImportFileError("The file is not a text (CSV) file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _parse(device: Device, data: bytes) -> ParseResult:
    try:
        result = device.parse(decode(data))
    except csv.Error as exc:
        raise ImportFileError(f"The file is not valid CSV: {exc}.") from exc
    # The rules of a reading entered by hand: not in the future, not before 1900.
    latest = timezone.now() + FUTURE_TOLERANCE
    kept = []
    for reading in result.readings:
        if reading.recorded_date > latest or reading.recorded_date.year < EARLIEST_YEAR:
            result.skipped_rows += 1
            result.errors.append(f"{reading.recorded_date:%Y-%m-%d %H:%M}: date out of range.")
        else:
            kept.append(reading)
    result.readings = kept
    if len(result.errors) > ERRORS_SHOWN:
        hidden = len(result.errors) - ERRORS_SHOWN
        result.errors = [*result.errors[:ERRORS_SHOWN], f"… and {hidden} more rows."]
    return result


def _duplicates(patient_id: int, readings: list[Reading]) -> list[bool]:
    """For each reading: is there already a glucose reading at that moment (stored, or
    earlier in the same file)?"""
    if not readings:
        return []
    moments = [reading.recorded_date for reading in readings]
    stored = set(
        Vitals.objects.for_patient(patient_id)
        .filter(
            recorded_date__gte=min(moments),
            recorded_date__lte=max(moments),
            blood_glucose__isnull=False,
        )
        .values_list("recorded_date", flat=True)
    )
    flags = []
    for moment in moments:
        flags.append(moment in stored)
        stored.add(moment)
    return flags


def import_preview(*, patient_id: int, device_key: str, data: bytes) -> dict:
    """What an import would do; writes nothing."""
    device = device_for(device_key)
    result = _parse(device, data)
    duplicates = _duplicates(patient_id, result.readings)
    moments = [reading.recorded_date for reading in result.readings]
    return {
        "device_name": device.name,
        "total_readings": len(result.readings),
        "preview_rows": [
            {
                "recorded_date": reading.recorded_date,
                "blood_glucose": reading.blood_glucose,
                "device_used": reading.device_used,
                "is_duplicate": duplicate,
            }
            for reading, duplicate in zip(result.readings[:PREVIEW_ROWS], duplicates, strict=False)
        ],
        "duplicate_count": sum(duplicates),
        "new_count": len(duplicates) - sum(duplicates),
        "skipped_rows": result.skipped_rows,
        "errors": result.errors,
        "warnings": result.warnings,
        "date_range_start": min(moments) if moments else None,
        "date_range_end": max(moments) if moments else None,
    }


def import_execute(
    *, patient_id: int, device_key: str, data: bytes, skip_duplicates: bool = True
) -> dict:
    """Stores the file's readings for the patient in one transaction. The caller has checked
    EDIT access. Imported rows bypass the per-record activity log (thousands of rows); they
    carry their import_source instead, and a day of them can be removed at once."""
    device = device_for(device_key)
    result = _parse(device, data)
    duplicates = _duplicates(patient_id, result.readings)
    rows = [
        Vitals(
            patient_id=patient_id,
            recorded_date=reading.recorded_date,
            blood_glucose=reading.blood_glucose,
            device_used=reading.device_used,
            import_source=device.key,
        )
        for reading, duplicate in zip(result.readings, duplicates, strict=True)
        if not (skip_duplicates and duplicate)
    ]
    with transaction.atomic():
        created = Vitals.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        reindex(Vitals, [row.pk for row in created])  # bulk_create sends no post_save
    skipped = sum(duplicates) if skip_duplicates else 0
    return {
        "imported_count": len(rows),
        "skipped_duplicates": skipped,
        "errors": result.errors,
        "total_processed": len(result.readings),
    }


def delete_imported_day(*, patient_id: int, import_source: str, day: dt.date) -> int:
    """Removes the patient's readings of that import source on that (facility-local) day."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    with transaction.atomic():
        deleted, _ = (
            Vitals.objects.for_patient(patient_id)
            .filter(
                import_source=import_source,
                recorded_date__gte=start,
                recorded_date__lt=start + dt.timedelta(days=1),
            )
            .delete()
        )
    return deleted
