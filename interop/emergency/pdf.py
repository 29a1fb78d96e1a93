"""The emergency summary as a one-page PDF, with the fonts and frame of records/pdf.py.

One page is the point: it is printed, folded into a wallet or handed over in a hurry. A
patient with very long lists gets each section cut to fewer rows (most important first:
allergies are ordered by severity, contacts and insurances primary first) with a line saying
how many were left out; the JSON, FHIR and page versions always hold everything.
"""

from __future__ import annotations

import io

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from interop.emergency.summary import EmergencySummary
from records.pdf import table, text, write_pdf

# Rows per section, tried in turn until the page holds everything.
ROW_CAPS = (30, 15, 10, 6, 4, 2)
CELL_CHARS = 160  # a longer note in a cell is cut: the page is for the essentials
WIDTH = 180 * mm  # A4 minus records/pdf.py's margins


class _LastPage(Flowable):
    """Notes the page it lands on: put last, it tells how many pages the document took."""

    def __init__(self, seen: list[int]):
        super().__init__()
        self.seen = seen

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.seen.append(self.canv.getPageNumber())


def _cut(value, limit: int = CELL_CHARS) -> str:
    value = "" if value is None else str(value)
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _joined(*parts) -> str:
    return " · ".join(str(part) for part in parts if part)


def _section(title: str, header: list[str], rows: list[list], widths: list[float], cap: int):
    flowables = [text(title, "h2")]
    if not rows:
        return [*flowables, text("None recorded.")]
    shown = rows[:cap]
    flowables.append(
        table(header, [[_cut(cell) for cell in row] for row in shown], [w * mm for w in widths])
    )
    if len(rows) > cap:
        flowables.append(
            text(
                f"… and {len(rows) - cap} more not shown on this page (the online summary "
                "lists them all).",
                "small",
            )
        )
    return flowables


def _identity_block(summary: EmergencySummary) -> Table:
    patient = summary.patient
    age = f" (age {summary.age})" if summary.age is not None else ""
    born = f"{patient.birth_date:%Y-%m-%d}{age}" if patient.birth_date else "unknown"
    rows = [
        [text("Name", "cell"), text(patient.full_name), text("Blood type", "cell")],
        [text("Born", "cell"), text(born), text(patient.blood_type or "not recorded", "title")],
        [
            text("Gender", "cell"),
            text(patient.get_gender_display() or "not recorded"),
            "",
        ],
    ]
    block = Table(rows, colWidths=[22 * mm, 118 * mm, 40 * mm])
    block.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor("#b0b8c4")),
                ("SPAN", (2, 1), (2, 2)),
                ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#fdecea")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return block


def _flowables(summary: EmergencySummary, cap: int, seen: list[int]) -> list:
    allergies = [
        [a.allergen, a.get_severity_display(), _joined(a.reaction, a.notes)]
        for a in summary.allergies
    ]
    conditions = [
        [
            c.condition_name,
            c.get_status_display(),
            c.get_severity_display() if c.severity else "",
            _joined(c.icd10_code, c.snomed_code and f"SNOMED {c.snomed_code}"),
            c.diagnosed_date or c.onset_date or "",
        ]
        for c in summary.conditions
    ]
    medications = [
        [
            _joined(m.medication_name, m.alternative_name and f"({m.alternative_name})"),
            m.dosage,
            m.frequency,
            m.get_route_display() if m.route else "",
            m.indication,
        ]
        for m in summary.medications
    ]
    contacts = [
        [
            _joined(c.name, "primary" if c.is_primary else ""),
            c.get_relationship_display(),
            c.phone_number,
            _joined(c.secondary_phone, c.email),
        ]
        for c in summary.emergency_contacts
    ]
    insurances = [
        [
            _joined(i.company_name, i.plan_name, "primary" if i.is_primary else ""),
            i.get_insurance_type_display(),
            _joined(i.member_id, i.member_name),
            i.group_number,
            i.policy_number,
        ]
        for i in summary.insurances
    ]
    generated = timezone.localtime(summary.generated_at).strftime("%Y-%m-%d %H:%M %Z")
    return [
        text("Emergency summary", "title"),
        _identity_block(summary),
        *_section("Allergies", ["Allergen", "Severity", "Reaction"], allergies, [60, 30, 90], cap),
        *_section(
            "Active conditions",
            ["Condition", "Status", "Severity", "Codes", "Since"],
            conditions,
            [75, 22, 25, 36, 22],
            cap,
        ),
        *_section(
            "Active medications",
            ["Medication", "Dose", "Frequency", "Route", "For"],
            medications,
            [58, 28, 32, 22, 40],
            cap,
        ),
        *_section(
            "Emergency contacts",
            ["Name", "Relationship", "Phone", "Other phone, email"],
            contacts,
            [55, 30, 35, 60],
            cap,
        ),
        *_section(
            "Insurance",
            ["Insurer, plan", "Type", "Member", "Group", "Policy"],
            insurances,
            [62, 22, 40, 28, 28],
            cap,
        ),
        Spacer(1, 3 * mm),
        text(
            f"Generated {generated} from the patient's MediKeep record. Only active allergies, "
            "conditions and medications are listed; confirm with the patient or their doctor "
            "when possible.",
            "small",
        ),
        _LastPage(seen),
    ]


def summary_pdf(summary: EmergencySummary) -> bytes:
    """The summary as a one-page A4 PDF."""
    title = f"Emergency summary: {summary.patient.full_name}"
    content = b""
    for cap in ROW_CAPS:
        seen: list[int] = []
        stream = io.BytesIO()
        write_pdf(stream, title=title, flowables=_flowables(summary, cap, seen))
        content = stream.getvalue()
        if seen and seen[-1] == 1:
            break
    return content
