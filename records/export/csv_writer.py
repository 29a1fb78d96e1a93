"""CSV exports, streamed: rows are read from the database in chunks and written out in blocks
of about 64 KiB, so memory stays flat whatever the number of records.

Spreadsheet safety: a text cell that starts with = + - @, a tab or a carriage return would be
read as a formula (or shifted) by Excel, LibreOffice and Google Sheets; such cells are written
with a leading apostrophe. Numbers stored as numbers (values, ids; a negative one too) are
written as plain numbers: a number cannot carry a formula. Text that merely looks like a number
("-5" typed into a text field) is text and is neutralised.

The file starts with a UTF-8 byte order mark, without which Excel reads UTF-8 as the local
code page and garbles accented and non-Latin names; other spreadsheets and csv readers
(utf-8-sig) skip it.

One table gives a plain CSV (header and rows). Several tables (scope "all", or a scope with
two record types such as lab results and their components) give a sectioned CSV: per table
a title line, the header, the rows and an empty line; the patient's details, when asked for,
come first as a two-column section. A plain CSV leaves them out (a spreadsheet would take them
for rows); bundles carry them as patient.csv.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from records.export.job import ExportJob, as_text, plain_formatter
from records.export.scopes import ALL

BOM = "\ufeff"
BLOCK_CHARS = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a cell that a spreadsheet would run or shift with an apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value) -> str | int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return neutralise(as_text(value))


def _text_cell(value):
    if value is None or value.__class__ is not str:
        return cell(value) if value is not None else None
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell_formatter(column_type: str):
    """cell() for one column, chosen once per table; None where the csv module already
    writes the value as wanted (numbers; dates and times, whose str() is ISO 8601; None as an
    empty cell). Per-cell calls were most of a large export's time."""
    if column_type == "text":
        return _text_cell
    if column_type in ("number", "date", "time"):
        return None
    return plain_formatter(column_type) or cell  # datetimes in the facility zone; the rest


def is_sectioned(job: ExportJob, tables: list | None = None) -> bool:
    """Several tables (or scope "all") make a sectioned CSV; one table a plain one."""
    return job.scope_value == ALL or len(list(job.tables()) if tables is None else tables) > 1


def csv_chunks(job: ExportJob) -> Iterator[bytes]:
    """The export as CSV bytes, in blocks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    tables = list(job.tables())
    sectioned = is_sectioned(job, tables)
    if sectioned and job.include_patient_info:
        writer.writerow(["Patient"])
        for label, value in job.patient().values():
            writer.writerow([label, cell(value)])
        writer.writerow([])
    for scope, section, queryset in tables:
        if sectioned:
            writer.writerow([f"{scope.label}: {section.label}"])
        writer.writerow(section.headers(job.unit_system))
        formatters = [(i, cell_formatter(c.type)) for i, c in enumerate(section.columns)]
        formatters = [(i, fn) for i, fn in formatters if fn is not None]
        for row in job.rows(scope, section, queryset):
            for index, format_ in formatters:
                row[index] = format_(row[index])
            writer.writerow(row)
            if buffer.tell() >= BLOCK_CHARS:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        if sectioned:
            writer.writerow([])
    yield buffer.getvalue().encode()


def patient_csv(job: ExportJob) -> Iterator[bytes]:
    """The patient's details alone (a member of a bundle)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(["Field", "Value"])
    for label, value in job.patient().values():
        writer.writerow([label, cell(value)])
    yield buffer.getvalue().encode()
