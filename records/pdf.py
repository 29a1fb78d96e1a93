"""What every PDF we write shares: an embedded font that covers the names people have,
the styles, and a page frame with the title and page numbers.

Export (records/export/) and custom reports (records/reports/) build their content as
reportlab flowables and hand them to `write_pdf`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

FONT = "MediKeepSans"
FONT_BOLD = "MediKeepSans-Bold"


def _font_dir() -> Path:
    # matplotlib ships DejaVu Sans (Latin with accents, Greek, Cyrillic, Hebrew, Arabic …),
    # so the fonts come with the requirements and need nothing from the system.
    import matplotlib

    return Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"


@cache
def register_fonts() -> None:
    """Registers the embedded fonts once per process (reportlab subsets them per PDF)."""
    folder = _font_dir()
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)


@cache
def styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    base = getSampleStyleSheet()
    made = {
        "title": ParagraphStyle("mk-title", parent=base["Title"], fontName=FONT_BOLD, fontSize=16),
        "h2": ParagraphStyle("mk-h2", parent=base["Heading2"], fontName=FONT_BOLD, fontSize=12),
        "body": ParagraphStyle("mk-body", parent=base["BodyText"], fontName=FONT, fontSize=9),
        "cell": ParagraphStyle(
            "mk-cell", parent=base["BodyText"], fontName=FONT, fontSize=7.5, leading=9
        ),
        "small": ParagraphStyle(
            "mk-small", parent=base["BodyText"], fontName=FONT, fontSize=7, textColor=colors.grey
        ),
    }
    return made


def text(value, style: str = "body") -> Paragraph:
    """A paragraph of plain text: markup characters in the value are shown, not obeyed."""
    escaped = (
        ("" if value is None else str(value))
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", "<br/>")
    )
    return Paragraph(escaped, styles()[style])


def table(header: list[str], rows: list[list], col_widths=None) -> Table:
    """A table that wraps long cells and repeats its header on every page."""
    data = [[text(h, "cell") for h in header]] + [[text(v, "cell") for v in row] for row in rows]
    made = Table(data, colWidths=col_widths, repeatRows=1)
    made.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return made


def write_pdf(stream, *, title: str, flowables: list, author: str = "MediKeep") -> None:
    """Writes an A4 PDF of `flowables` to `stream` (a binary file object)."""
    register_fonts()
    generated = timezone.localtime().strftime("%Y-%m-%d %H:%M")

    def frame(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(15 * mm, 10 * mm, f"{title} · generated {generated}")
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        stream,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=author,
    )
    doc.build(flowables, onFirstPage=frame, onLaterPages=frame)
