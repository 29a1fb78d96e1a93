"""The report PDF: title, patient, summary, one section per category, trend charts.

Built from a plan (records/reports/selection.py). Tables hold pre-wrapped plain strings rather
than a Paragraph per cell, and are cut into blocks of rows: laying out one Paragraph is
costly and a single long table is re-measured at every page break, which at 10,000 records
costs far more than the drawing itself.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db.models import F
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Image, KeepTogether, Spacer, Table, TableStyle

from patients.models import Patient, PatientPhoto
from records import pdf
from records.reports.categories import (
    Category,
    categories,
    details,
    practitioner_name,
    record_date,
    record_status,
    record_title,
    with_practitioner,
)
from records.reports.charts import trend_chart
from records.reports.trends import (
    lab_series,
    vital_fields,
    vital_label,
    vital_series,
    vital_types_with_data,
    vital_unit,
)

logger = logging.getLogger("medikeep")

CELL_FONT_SIZE = 7.5
CELL_LEADING = 9
CELL_PADDING = 3
ROWS_PER_BLOCK = 120
MAX_CELL_LINES = 14
PAGE_WIDTH = 180 * mm  # A4 less the frame's margins
COLUMNS = (("Date", 0.12), ("Name", 0.24), ("Status", 0.10), ("Details", 0.54))
CHILD_COLUMNS = (("Date", 0.12), ("Of", 0.18), ("Name", 0.18), ("Status", 0.08), ("Details", 0.44))


def parse_day(value) -> dt.date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


@dataclass
class Section:
    category: Category
    records: list
    children: list[tuple]  # (child Category-like label, rows)


def _date_bounded(queryset, date_field: str | None, date_from, date_to):
    """Records dated inside the range, and the undated ones (a range cannot place them)."""
    if not date_field or not (date_from or date_to):
        return queryset
    field = queryset.model._meta.get_field(date_field)
    is_datetime = field.get_internal_type() == "DateTimeField"
    lookup = f"{date_field}__date" if is_datetime else date_field
    inside = {}
    if date_from:
        inside[f"{lookup}__gte"] = date_from
    if date_to:
        inside[f"{lookup}__lte"] = date_to
    from django.db.models import Q

    return queryset.filter(Q(**inside) | Q(**{f"{date_field}__isnull": True}))


def section_queryset(patient_id: int, category: Category, record_ids, date_from, date_to):
    rows = category.model.objects.for_patient(patient_id)
    if record_ids is not None:
        rows = rows.filter(pk__in=record_ids)
    rows = _date_bounded(rows, category.date_field, date_from, date_to)
    if category.date_field:
        return rows.order_by(F(category.date_field).asc(nulls_last=True), "id")
    return rows.order_by(category.model.kind.title, "id")


def child_queryset(patient_id: int, child, parents):
    rows = child.model.objects.for_patient(patient_id).filter(
        **{f"{child.parent_field}__in": parents.order_by().values("pk")}
    )
    date_field = child.model.kind.date
    if date_field:
        return rows.order_by(child.parent_field, F(date_field).asc(nulls_last=True), "id")
    return rows.order_by(child.parent_field, "id")


def count_records(plan: dict) -> int:
    """Records the plan puts in its report (roots and their children), by count queries."""
    date_from, date_to = parse_day(plan["date_from"]), parse_day(plan["date_to"])
    total = 0
    for item in plan["sections"]:
        category = categories()[item["category"]]
        roots = section_queryset(
            plan["patient_id"], category, item["record_ids"], date_from, date_to
        )
        total += roots.count()
        for child in category.children:
            total += child_queryset(plan["patient_id"], child, roots).count()
    return total


def load_sections(plan: dict) -> list[Section]:
    date_from, date_to = parse_day(plan["date_from"]), parse_day(plan["date_to"])
    sections = []
    for item in plan["sections"]:
        category = categories()[item["category"]]
        roots_query = section_queryset(
            plan["patient_id"], category, item["record_ids"], date_from, date_to
        )
        roots = list(with_practitioner(roots_query))
        children = []
        for child in category.children:
            rows = list(child_queryset(plan["patient_id"], child, roots_query)) if roots else []
            children.append((child, rows))
        sections.append(Section(category=category, records=roots, children=children))
    return sections


# --- tables --------------------------------------------------------------------------------


def _wrap(value, width: float) -> str:
    text = "" if value is None else str(value)
    if not text:
        return ""
    # Most cells fit on one line: one measure (in C with rl_accel) instead of a word split.
    if "\n" not in text and pdfmetrics.stringWidth(text, pdf.FONT, CELL_FONT_SIZE) <= width:
        return text
    lines = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(simpleSplit(paragraph, pdf.FONT, CELL_FONT_SIZE, width) or [""])
        if len(lines) >= MAX_CELL_LINES:
            lines = lines[:MAX_CELL_LINES]
            lines[-1] = lines[-1][:-1] + "…" if lines[-1] else "…"
            break
    return "\n".join(lines)


def _table_style() -> TableStyle:
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), pdf.FONT),
            ("FONTNAME", (0, 0), (-1, 0), pdf.FONT_BOLD),
            ("FONTSIZE", (0, 0), (-1, -1), CELL_FONT_SIZE),
            ("LEADING", (0, 0), (-1, -1), CELL_LEADING),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c4")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
    )


def wrapped_tables(columns, rows: list[list]) -> list[Table]:
    """Tables of ROWS_PER_BLOCK rows each, every one with the header (also repeated when a
    block breaks across a page)."""
    widths = [PAGE_WIDTH * share for _, share in columns]
    text_widths = [w - 2 * CELL_PADDING for w in widths]
    header = [name for name, _ in columns]
    style = _table_style()
    tables = []
    for start in range(0, len(rows), ROWS_PER_BLOCK):
        block = [
            [_wrap(value, text_widths[i]) for i, value in enumerate(row)]
            for row in rows[start : start + ROWS_PER_BLOCK]
        ]
        table = Table([header, *block], colWidths=widths, repeatRows=1)
        table.setStyle(style)
        tables.append(table)
    return tables


def _day(record, date_field):
    day = record_date(record, date_field)
    return day.isoformat() if day else ""


def section_flowables(section: Section) -> list:
    category = section.category
    date_field = category.date_field
    rows = []
    for record in section.records:
        info = details(record)
        who = practitioner_name(record)
        if who:
            info = f"Practitioner: {who} · {info}" if info else f"Practitioner: {who}"
        rows.append([_day(record, date_field), record_title(record), record_status(record), info])
    out = [pdf.text(f"{category.label} ({len(section.records)})", "h2")]
    if not rows:
        out.append(pdf.text("No records.", "small"))
        return out
    out.extend(wrapped_tables(COLUMNS, rows))
    titles = {record.pk: record_title(record) for record in section.records}
    for child, child_rows in section.children:
        if not child_rows:
            continue
        kind = child.model.kind
        out.append(Spacer(1, 3 * mm))
        label = kind.plural.replace("_", " ").capitalize()
        out.append(pdf.text(f"{label} ({len(child_rows)})", "body"))
        table_rows = [
            [
                _day(row, kind.date),
                titles.get(getattr(row, f"{child.parent_field}_id"), ""),
                record_title(row),
                record_status(row),
                details(row),
            ]
            for row in child_rows
        ]
        out.extend(wrapped_tables(CHILD_COLUMNS, table_rows))
    return out


# --- the other parts ---------------------------------------------------------------------


def _photo(patient: Patient):
    try:
        photo = PatientPhoto.objects.get(patient=patient)
        with photo.file.open("rb") as handle:
            from io import BytesIO

            image = Image(BytesIO(handle.read()))
    except (PatientPhoto.DoesNotExist, OSError, ValueError):
        return None
    ratio = image.imageHeight / max(image.imageWidth, 1)
    image.drawWidth, image.drawHeight = 30 * mm, 30 * mm * ratio
    return image


def patient_flowables(patient: Patient, *, with_photo: bool) -> list:
    facts = [
        ("Name", patient.full_name),
        ("Birth date", patient.birth_date.isoformat() if patient.birth_date else ""),
        ("Age", patient.age),
        ("Gender", patient.get_gender_display()),
        ("Blood type", patient.blood_type),
        ("Height", f"{patient.height:g} in" if patient.height else ""),
        ("Weight", f"{patient.weight:g} lb" if patient.weight else ""),
        ("Phone", patient.phone_number),
        ("Email", patient.email),
        ("Address", patient.address),
        ("Physician", str(patient.physician) if patient.physician_id else ""),
    ]
    rows = [[pdf.text(k, "cell"), pdf.text(v, "cell")] for k, v in facts if v not in (None, "")]
    table = Table(rows, colWidths=[30 * mm, 110 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    out = [pdf.text("Patient", "h2")]
    image = _photo(patient) if with_photo else None
    if image is not None:
        out.append(Table([[table, image]], colWidths=[145 * mm, 35 * mm], hAlign="LEFT"))
    else:
        out.append(table)
    return out


def summary_flowables(sections: list[Section], charts: int) -> list:
    rows = [[s.category.label, str(len(s.records))] for s in sections]
    for s in sections:
        for child, child_rows in s.children:
            if child_rows:
                label = child.model.kind.plural.replace("_", " ").capitalize()
                rows.append([f"  {label} (in {s.category.label.lower()})", str(len(child_rows))])
    rows.append(["Trend charts", str(charts)])
    return [pdf.text("Summary", "h2"), pdf.table(["Category", "Records"], rows)]


def chart_drawings(plan: dict) -> list:
    patient_id = plan["patient_id"]
    drawings = []
    vital_charts = list(plan["vital_charts"])
    in_vitals = any(item["category"] == "vitals" for item in plan["sections"])
    if plan.get("auto_vital_charts") and in_vitals:
        chosen = {c["vital_type"] for c in vital_charts}
        for vital_type in vital_types_with_data(
            patient_id, parse_day(plan["date_from"]), parse_day(plan["date_to"])
        ):
            if vital_type not in chosen:
                vital_charts.append(
                    {
                        "vital_type": vital_type,
                        "date_from": plan["date_from"],
                        "date_to": plan["date_to"],
                    }
                )
    from records.models.vitals import MEASURES

    for chart in vital_charts:
        vital_type = chart["vital_type"]
        series = vital_series(
            patient_id, vital_type, parse_day(chart["date_from"]), parse_day(chart["date_to"])
        )
        labelled = {MEASURES[f].label: series[f] for f in vital_fields(vital_type)}
        drawings.append(trend_chart(vital_label(vital_type), labelled, vital_unit(vital_type)))
    for chart in plan["lab_test_charts"]:
        dated = {
            **chart,
            "date_from": parse_day(chart["date_from"]),
            "date_to": parse_day(chart["date_to"]),
        }
        points = lab_series(patient_id, dated)
        drawings.append(
            trend_chart(chart["test_name"], {chart["test_name"]: points}, chart.get("unit") or "")
        )
    return drawings


def _period(plan: dict) -> str:
    start, end = plan["date_from"], plan["date_to"]
    if not (start or end):
        return "All dates"
    return f"{start or '…'} – {end or '…'}"


def build_report(plan: dict, stream) -> int:
    """Writes the plan's PDF to `stream`; returns the number of records it holds."""
    patient = Patient.objects.select_related("physician").get(pk=plan["patient_id"])
    sections = load_sections(plan)
    drawings = chart_drawings(plan)
    flowables = [pdf.text(plan["title"], "title"), pdf.text(f"Period: {_period(plan)}", "small")]
    if plan["include_patient_info"]:
        flowables += patient_flowables(patient, with_photo=plan["include_profile_picture"])
    else:
        flowables.append(pdf.text(f"Patient: {patient.full_name}", "body"))
    if plan["include_summary"]:
        flowables += summary_flowables(sections, len(drawings))
    if drawings:
        flowables.append(pdf.text("Trend charts", "h2"))
        flowables += [KeepTogether([d, Spacer(1, 4 * mm)]) for d in drawings]
    for section in sections:
        flowables += section_flowables(section)
    pdf.write_pdf(stream, title=plan["title"], flowables=flowables)
    return sum(len(s.records) + sum(len(rows) for _, rows in s.children) for s in sections)
