"""JSON exports, streamed like CSV: the document is written piece by piece while the rows are
read in chunks, so memory stays flat. Shape:

    {"exported_at", "scope", "unit_system", "date_range": {"start", "end"},
     "patient": {...} (when asked for), "counts": {scope: n}, "units": {type: {field: unit}},
     "records": {scope: [{"type": "lab_result", "id": …, <fields as the API names them>}, …]}}

A scope with two record types (lab results and their components) lists both in its array;
"type" tells them apart.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from django.utils import timezone

from records.export.job import ExportJob, plain, plain_formatter

BLOCK_BYTES = 64 * 1024


def _dump(value) -> bytes:
    return orjson.dumps(value, default=str)


def json_chunks(job: ExportJob) -> Iterator[bytes]:
    tables = list(job.tables())
    head = {
        "exported_at": timezone.localtime().isoformat(),
        "scope": job.scope_value,
        "unit_system": job.unit_system,
        "date_range": {
            "start": job.start.isoformat() if job.start else None,
            "end": job.end.isoformat() if job.end else None,
        },
    }
    if job.include_patient_info:
        head["patient"] = {key: plain(value) for key, (_label, value) in job.patient().items()}
    head["counts"] = {scope.value: job.scope_count(scope) for scope in job.scopes}
    units = {}
    for _scope, section, _rows in tables:
        if section.units(job.unit_system):
            units[section.type_name] = section.units(job.unit_system)
    head["units"] = units
    block = bytearray(_dump(head)[:-1])  # the object stays open for "records"
    block += b',"records":{'
    current_scope = None
    first_row = True
    for scope, section, queryset in tables:
        if scope is not current_scope:
            if current_scope is not None:
                block += b"],"
            block += _dump(scope.value) + b":["
            current_scope, first_row = scope, True
        keys = ["type", *section.keys]
        formatted = [
            (index, fn)
            for index, fn in enumerate(plain_formatter(c.type) for c in section.columns)
            if fn is not None
        ]
        for row in job.rows(scope, section, queryset):
            if not first_row:
                block += b","
            first_row = False
            for index, fn in formatted:
                row[index] = fn(row[index])
            block += _dump(dict(zip(keys, [section.type_name, *row], strict=True)))
            if len(block) >= BLOCK_BYTES:
                yield bytes(block)
                block.clear()
    if current_scope is not None:
        block += b"]"
    block += b"}}"
    yield bytes(block)
