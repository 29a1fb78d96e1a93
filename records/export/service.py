"""Exports as downloads: one file (CSV, JSON or PDF), the same with the attached files in a zip,
or a bundle of one file per scope. The caller has checked access to the patient; everything
that can refuse (no data, a PDF too large) is decided here before the first byte is sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.utils import timezone
from django.utils.text import slugify

from records.export.attachments import attached_files
from records.export.bundle import Member, safe_member_name, zip_chunks
from records.export.csv_writer import csv_chunks, is_sectioned, patient_csv
from records.export.job import ExportJob
from records.export.json_writer import json_chunks
from records.export.pdf_writer import file_chunks, render_pdf

CSV, JSON, PDF = "csv", "json", "pdf"
FORMATS = {
    JSON: ("JSON", "Structured data, every field as the API names it; for other programs."),
    CSV: ("CSV", "A spreadsheet (UTF-8 with BOM); several tables come as sections."),
    PDF: ("PDF", "A printable document (A4) with one table per record type."),
}
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    JSON: "application/json",
    PDF: "application/pdf",
    "zip": "application/zip",
}


@dataclass
class Download:
    chunks: Iterator[bytes]
    content_type: str
    filename: str


def _file_stem(job: ExportJob, scope_value: str) -> str:
    who = slugify(job.patient_name) if job.include_patient_info else ""
    who = who or f"patient-{job.patient_id}"
    return f"medikeep-{who}-{scope_value.replace('_', '-')}-{timezone.localdate():%Y%m%d}"


def _content(job: ExportJob, fmt: str):
    """A callable giving the export's bytes; a PDF is rendered now (it may refuse)."""
    if fmt == PDF:
        spool = render_pdf(job)
        return lambda: file_chunks(spool)
    if fmt == JSON:
        return lambda: json_chunks(job)
    return lambda: csv_chunks(job)


def export_download(job: ExportJob, fmt: str, *, include_files: bool = False) -> Download:
    """The export as one file, or with include_files a zip of it and the records' files."""
    job.require_data()
    stem = _file_stem(job, job.scope_value)
    content = _content(job, fmt)
    if not include_files:
        return Download(content(), CONTENT_TYPES[fmt], f"{stem}.{fmt}")
    members = [Member(f"{stem}.{fmt}", content, compress=fmt != PDF)]
    if fmt == CSV and job.include_patient_info and not is_sectioned(job):
        # A plain CSV leaves the patient's details out; the bundle carries them beside it.
        members.append(Member("patient.csv", lambda: patient_csv(job)))
    missing: list[str] = []
    files = _attachment_members(job, missing)
    summary = {
        "patient_id": job.patient_id,
        "scope": job.scope_value,
        "format": fmt,
        "records": job.total,
        "attached_files": len(files),
    }
    return Download(
        zip_chunks(members + files, manifest=lambda: {**summary, "files_not_found": missing}),
        CONTENT_TYPES["zip"],
        f"{stem}.zip",
    )


def _attachment_members(job: ExportJob, missing: list[str]) -> list[Member]:
    records = {}
    scope_of = {}
    for scope, section, queryset in job.tables():
        if not scope.is_directory:
            records[section.model] = queryset.values("pk")
            scope_of[section.model] = scope.value
    members = []
    for attachment in attached_files(job.patient_id, records):
        kind_name = attachment.model.kind.name
        name = (
            f"files/{scope_of[attachment.model]}/{kind_name}-{attachment.record_id}/"
            f"{attachment.file_id}-{safe_member_name(attachment.file_name)}"
        )
        members.append(
            Member(name, _tolerant(attachment.open_chunks, name, missing), False, attachment.size)
        )
    return members


def _tolerant(open_chunks, name: str, missing: list[str]):
    """A file whose bytes are gone from storage is listed in the manifest, not a broken zip."""

    def chunks():
        try:
            source = open_chunks()
        except FileNotFoundError:
            missing.append(name)
            return
        yield from source

    return chunks


def bulk_download(job: ExportJob, fmt: str) -> Download:
    """A zip with one file per scope that has records; the others are named in manifest.json."""
    job.require_data()
    members: list[Member] = []
    written, empty = {}, []
    for scope in job.scopes:
        count = job.scope_count(scope)
        if not count:
            empty.append(scope.value)
            continue
        part = ExportJob(
            patient_id=job.patient_id,
            scopes=[scope],
            start=job.start,
            end=job.end,
            unit_system=job.unit_system,
            include_patient_info=job.include_patient_info,
            scope_value=scope.value,
            _counts=job.section_counts(),
            _patient=job.patient() if job.include_patient_info else None,
        )
        members.append(Member(f"{scope.value}.{fmt}", _content(part, fmt), compress=fmt != PDF))
        written[scope.value] = count
    if fmt == CSV and job.include_patient_info:
        members.insert(0, Member("patient.csv", lambda: patient_csv(job)))
    manifest = {
        "patient_id": job.patient_id,
        "format": fmt,
        "exported_at": timezone.localtime().isoformat(),
        "date_range": {
            "start": job.start.isoformat() if job.start else None,
            "end": job.end.isoformat() if job.end else None,
        },
        "unit_system": job.unit_system,
        "files": {f"{value}.{fmt}": n for value, n in written.items()},
        "scopes_without_data": empty,
    }
    return Download(
        zip_chunks(members, manifest=lambda: manifest),
        CONTENT_TYPES["zip"],
        f"{_file_stem(job, 'bulk')}.zip",
    )
