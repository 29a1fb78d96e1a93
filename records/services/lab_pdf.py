"""Text of a lab report PDF, for POST /lab-results/{id}/ocr-parse (nothing is saved).

Only the PDF's own text layer is read (pypdf). There is no OCR engine on this server: a
scanned report without a text layer is refused with a message that says so.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import PyPdfError

MAX_PDF_BYTES = 15 * 1024 * 1024
MAX_PAGES = 500
PDF_MAGIC = b"%PDF"

logger = logging.getLogger(__name__)


class PdfRefused(ValueError):
    """Not a PDF, encrypted or broken (a 400 for the client)."""


class NoTextLayer(ValueError):
    """A readable PDF whose pages carry no text (a scan): it would need OCR."""


@dataclass(frozen=True)
class PdfText:
    text: str
    page_count: int
    test_date: dt.date | None


# "Collected: 01/15/2025", "Date Collected 2025-01-15", "Specimen Collected: Jan 15, 2025" …
_DATE_LABEL = r"(?:collect(?:ed|ion)(?: date)?|date (?:collected|of service|drawn)|drawn|test date)"
_DATE_VALUE = (
    r"(?P<iso>\d{4}-\d{2}-\d{2})|(?P<us>\d{1,2}/\d{1,2}/\d{4})"
    r"|(?P<month>[A-Z][a-z]{2,8}\.? \d{1,2},? \d{4})"
)
_DATE_AFTER_LABEL = re.compile(rf"{_DATE_LABEL}\W{{0,20}}(?:{_DATE_VALUE})", re.IGNORECASE)


def _as_date(match: re.Match) -> dt.date | None:
    try:
        if match["iso"]:
            return dt.date.fromisoformat(match["iso"])
        if match["us"]:
            return dt.datetime.strptime(match["us"], "%m/%d/%Y").date()
        text = match["month"].replace(".", "").replace(",", "")
        for pattern in ("%b %d %Y", "%B %d %Y"):
            try:
                return dt.datetime.strptime(text, pattern).date()
            except ValueError:
                continue
    except ValueError:
        return None
    return None


def find_test_date(text: str) -> dt.date | None:
    """The first collection/test date the report names, if any."""
    for match in _DATE_AFTER_LABEL.finditer(text):
        found = _as_date(match)
        if found is not None:
            return found
    return None


def extract_text(data: bytes) -> PdfText:
    """The text of every page (pages separated by a blank line)."""
    if not data.startswith(PDF_MAGIC):
        raise PdfRefused("The file is not a PDF.")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise PdfRefused("The PDF is password-protected; upload an unprotected copy.")
        pages = reader.pages
        if len(pages) > MAX_PAGES:
            raise PdfRefused(f"The PDF has more than {MAX_PAGES} pages.")
        texts = [(page.extract_text() or "").strip() for page in pages]
    except PdfRefused:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # pypdf reports damaged files through several exception types.
        logger.info("Unreadable PDF: %s", exc)
        raise PdfRefused("The PDF is damaged or cannot be read.") from exc
    text = "\n\n".join(t for t in texts if t)
    if not text.strip():
        raise NoTextLayer(
            "The PDF has no text layer (a scanned image?). This server has no OCR engine: "
            "enter the results by hand or upload a PDF with selectable text."
        )
    return PdfText(text=text, page_count=len(texts), test_date=find_test_date(text))
