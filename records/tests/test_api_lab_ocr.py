"""POST /lab-results/{id}/ocr-parse: the text layer of a lab report PDF; nothing is saved."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfWriter

from records.models import LabResult, LabTestComponent
from records.services import lab_pdf
from records.tests.factories import LabResultFactory

pytestmark = pytest.mark.django_db


def text_pdf(*pages: list[str]) -> bytes:
    """A small PDF, built by hand, with one page per list of text lines (Helvetica)."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        None,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 11 Tf", "14 TL", "50 750 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops)
        objects.append(
            f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream"
        )
        content = len(objects)
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content} 0 R >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    out.write(trailer.encode())
    return out.getvalue()


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


REPORT = [
    ["LabCorp Patient Report", "Date Collected: 01/15/2025", "Glucose 92 mg/dL 70-99"],
    ["Sodium 140 mmol/L 136-145"],
]


def url(lab):
    return f"/api/v1/lab-results/{lab.pk}/ocr-parse"


def upload(data, name="report.pdf"):
    return {"file": SimpleUploadedFile(name, data, content_type="application/pdf")}


@pytest.fixture
def lab(patient):
    return LabResultFactory(patient=patient)


def test_text_of_a_report(alice_api, lab):
    response = alice_api.post(url(lab), upload(text_pdf(*REPORT)), format="multipart")
    assert response.status_code == 200, response.content
    got = response.json()
    assert got["status"] == "success" and got["error"] is None
    assert "Glucose 92 mg/dL" in got["extracted_text"]
    assert "Sodium 140" in got["extracted_text"]
    meta = got["metadata"]
    assert meta["method"] == "native"
    assert (meta["page_count"], meta["char_count"]) == (2, len(got["extracted_text"]))
    assert meta["test_date"] == "2025-01-15"
    assert meta["filename"] == "report.pdf"
    # Nothing is saved.
    assert LabTestComponent.objects.count() == 0
    assert LabResult.objects.get().updated_at == lab.updated_at


def test_view_share_may_parse(client_for, bob, shared_patient):
    lab = LabResultFactory(patient=shared_patient)
    response = client_for(bob).post(url(lab), upload(text_pdf(*REPORT)), format="multipart")
    assert response.status_code == 200


def test_stranger_and_anonymous(client_for, mallory, anon, lab):
    assert client_for(mallory).post(url(lab), upload(text_pdf(*REPORT))).status_code == 404
    assert anon.post(url(lab), upload(text_pdf(*REPORT))).status_code == 401


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"Glucose,92\n", 400, "not a PDF"),
        (b"%PDF-1.4\n1 0 obj garbage", 400, "damaged"),
        (None, 400, "password"),
        (None, 422, "no text layer"),
    ],
    ids=["not-pdf", "broken", "encrypted", "scan"],
)
def test_refusals(alice_api, lab, data, status, words, request):
    data = data or (encrypted_pdf() if request.node.callspec.id == "encrypted" else blank_pdf())
    response = alice_api.post(url(lab), upload(data), format="multipart")
    assert response.status_code == status, response.content
    assert words in response.json()["error"]


def test_missing_file_is_422(alice_api, lab):
    assert alice_api.post(url(lab), {}, format="multipart").status_code == 422


def test_over_15_mb_is_413(alice_api, lab, monkeypatch):
    monkeypatch.setattr("records.api.lab_ocr.MAX_PDF_BYTES", 100)
    response = alice_api.post(url(lab), upload(text_pdf(*REPORT)), format="multipart")
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("Specimen Collected: Jan 15, 2025 08:00", "2025-01-15"),
        ("Collection Date 2024-12-01", "2024-12-01"),
        ("Date of Service: 13/45/2024", None),
        ("No dates here", None),
    ],
)
def test_find_test_date(text, day):
    found = lab_pdf.find_test_date(text)
    assert (found.isoformat() if found else None) == day
