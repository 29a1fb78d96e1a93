"""PDF exports (A4, reportlab through records/pdf.py, whose embedded DejaVu Sans covers accented,
Greek and Cyrillic names): the patient's details when asked for, then one table per record type.

A record type has more fields than an A4 page has room for, so each table shows the record's
name, its date and the other short fields that hold a value in this export (up to
NARROW_COLUMNS), and gathers the rest — notes, long text, further fields — in a "Details"
column as "Label: value" lines. Nothing is dropped. Ids and timestamps are left to CSV/JSON.

reportlab lays the document out in memory, so a PDF is bounded: more than PDF_MAX_ROWS rows
is refused (422, "narrow the dates or choose CSV") instead of taking the server's memory.
Tables are cut into blocks of TABLE_BLOCK_ROWS rows, which keeps the page splitting linear.
"""

from __future__ import annotations

from collections.abc import Iterator
from tempfile import SpooledTemporaryFile

from django.utils import timezone
from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from records import pdf
from records.export.job import ExportJob, as_text
from records.export.scopes import Section, name_field_of

PDF_MAX_ROWS = 5000
TABLE_BLOCK_ROWS = 150
NARROW_COLUMNS = 6
PAGE_WIDTH = 180 * mm  # A4 less the margins of records/pdf.py
METADATA = frozenset({"id", "created_at", "updated_at"})
READ_BLOCK = 256 * 1024


class TooManyRows(Exception):
    pass


def _local_minutes(value) -> str:
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime("%Y-%m-%d %H:%M")


def _pdf_text(column_type: str):
    """How a cell reads on paper: datetimes to the minute, in the facility's zone."""
    return _local_minutes if column_type == "datetime" else as_text


def _has_value(value) -> bool:
    # False is left out like an empty cell: "Reminder enabled: false" on every row is noise.
    return value not in (None, "", [], {}, False)


def _shown_columns(section: Section, rows: list[list]) -> tuple[list[int], list[int]]:
    """(indexes of the table's columns, indexes gathered under Details), empty ones left out.

    The record's name and date come first and always have a column; then the short fields."""
    columns = section.columns
    filled = [any(_has_value(row[i]) for row in rows) for i in range(len(columns))]
    kind = getattr(section.model, "kind", None)
    leading = [name_field_of(section.model), kind.date if kind else None]
    first = [
        i for key in leading for i, c in enumerate(columns) if key and c.key == key and filled[i]
    ]
    rest = [
        i
        for i, c in enumerate(columns)
        if filled[i] and i not in first and c.key not in METADATA and not c.key.endswith("_id")
    ]
    narrow = first + [i for i in rest if not columns[i].wide][: max(NARROW_COLUMNS - len(first), 0)]
    details = [i for i in rest if i not in narrow]
    return narrow, details


def _section_flowables(job: ExportJob, scope, section: Section, rows: list[list]) -> list:
    narrow, details = _shown_columns(section, rows)
    headers = section.headers(job.unit_system)
    header = [headers[i] for i in narrow] + (["Details"] if details else [])
    if details:
        widths = [PAGE_WIDTH * 0.6 / max(len(narrow), 1)] * len(narrow) + [PAGE_WIDTH * 0.4]
    else:
        widths = [PAGE_WIDTH / max(len(narrow), 1)] * len(narrow)
    body = []
    shown = [_pdf_text(column.type) for column in section.columns]
    for row in rows:
        line = [shown[i](row[i]) for i in narrow]
        if details:
            line.append(
                "\n".join(f"{headers[i]}: {as_text(row[i])}" for i in details if _has_value(row[i]))
            )
        body.append(line)
    title = scope.label if scope.label == section.label else f"{scope.label}: {section.label}"
    made = [pdf.text(f"{title} ({len(rows)})", "h2")]
    for start in range(0, len(body), TABLE_BLOCK_ROWS):
        made.append(pdf.table(header, body[start : start + TABLE_BLOCK_ROWS], col_widths=widths))
    made.append(Spacer(1, 4 * mm))
    return made


def pdf_flowables(job: ExportJob) -> list:
    if job.total > PDF_MAX_ROWS:
        raise TooManyRows(
            f"A PDF holds at most {PDF_MAX_ROWS} records; this export has {job.total}. "
            "Narrow the dates or the scope, or choose CSV."
        )
    made = []
    if job.include_patient_info:
        made.append(pdf.text(f"Health records of {job.patient_name}", "title"))
        info = [
            [label, as_text(value)]
            for label, value in job.patient().values()
            if value not in (None, "")
        ]
        made += [
            pdf.table(["Patient", ""], info, col_widths=[50 * mm, 130 * mm]),
            Spacer(1, 5 * mm),
        ]
    else:
        made.append(pdf.text("Health records", "title"))
    if job.start or job.end:
        span = f"{job.start or '…'} to {job.end or '…'}"
        made.append(pdf.text(f"Records dated {span}", "small"))
    for scope, section, queryset in job.tables():
        rows = list(job.rows(scope, section, queryset))
        made += _section_flowables(job, scope, section, rows)
    return made


def render_pdf(job: ExportJob):
    """The PDF in a temporary file (in memory up to a few MiB), rewound. Built before the
    response starts, so a refusal or a failure is still an error answer, not a cut download."""
    made = pdf_flowables(job)
    spool = SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by file_chunks
    try:
        pdf.write_pdf(spool, title=f"MediKeep export: {job.scope_value}", flowables=made)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def file_chunks(handle) -> Iterator[bytes]:
    """Reads a file in blocks and closes it."""
    with handle:
        while block := handle.read(READ_BLOCK):
            yield block
