"""Export formats in depth: spreadsheet-safe CSV that streams, PDFs read back with pypdf and
rendered with pdftoppm, zips with the attached files, and query counts that do not grow."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import zipfile
from datetime import date

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from files.models import EntityFile
from files.tests.helpers import PDF, png_bytes, upload_of
from patients.tests.factories import PatientFactory
from records.export import pdf_writer
from records.models import Medication
from records.tests.factories import (
    AllergyFactory,
    LabResultFactory,
    LabTestComponentFactory,
    MedicationFactory,
    PractitionerFactory,
    VitalsFactory,
)

BASE = "/api/v1/export"
pytestmark = pytest.mark.django_db


def chunks_of(response) -> list[bytes]:
    assert isinstance(response, StreamingHttpResponse), type(response)
    return list(response.streaming_content)


def body_of(response) -> bytes:
    return b"".join(chunks_of(response))


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body_of(response).decode("utf-8-sig"))))


# --- CSV ------------------------------------------------------------------------------------

DANGEROUS = ["=1+1", "+x", "-x", "@x", "\tx", "\rx"]


def test_formula_cells_are_neutralised(alice_api, shared_patient):
    for name in DANGEROUS:
        MedicationFactory(patient=shared_patient, medication_name=name, dosage="=HYPERLINK(1)")
    MedicationFactory(patient=shared_patient, medication_name="Plain - name", dosage="5 mg")
    rows = csv_rows(alice_api.get(f"{BASE}/data?format=csv&scope=medications"))
    header = rows[0]
    names = {row[header.index("Medication name")] for row in rows[1:]}
    assert names == {"'" + name for name in DANGEROUS} | {"Plain - name"}
    dosages = {row[header.index("Dosage")] for row in rows[1:]}
    assert dosages == {"'=HYPERLINK(1)", "5 mg"}


def test_numbers_stay_numbers_and_text_that_looks_like_one_is_text(alice_api, shared_patient):
    lab = LabResultFactory(patient=shared_patient, test_name="Blood gas")
    LabTestComponentFactory(
        patient=shared_patient, lab_result=lab, test_name="Base excess", value=-2.5, unit="-"
    )
    rows = csv_rows(alice_api.get(f"{BASE}/lab-test-components"))
    component = next(row for row in rows if "Base excess" in row)
    header = next(row for row in rows if "Value" in row and "Unit" in row)
    assert component[header.index("Value")] == "-2.5"  # a stored number: written as is
    assert component[header.index("Unit")] == "'-"  # text starting with "-": neutralised


def test_related_names_are_neutralised_too(alice_api, shared_patient):
    doctor = PractitionerFactory(name="@Dr Evil")
    MedicationFactory(patient=shared_patient, practitioner=doctor)
    rows = csv_rows(alice_api.get(f"{BASE}/data?format=csv&scope=medications"))
    assert rows[1][rows[0].index("Practitioner")] == "'@Dr Evil"


def test_csv_streams_in_chunks(alice_api, shared_patient):
    Medication.objects.bulk_create(
        Medication(patient=shared_patient, medication_name=f"Med {i}", notes="n" * 200)
        for i in range(600)
    )
    response = alice_api.get(f"{BASE}/data?format=csv&scope=medications")
    assert isinstance(response, StreamingHttpResponse)
    parts = chunks_of(response)
    assert len(parts) > 1
    assert all(len(part) < 80 * 1024 for part in parts)
    rows = list(csv.reader(io.StringIO(b"".join(parts).decode("utf-8-sig"))))
    assert len(rows) == 601


def _queries_for(client, url, method="get", body=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        post = method == "post"
        response = client.post(url, body, format="json") if post else client.get(url)
        assert response.status_code == 200, response.content
        b"".join(response.streaming_content)
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/data?format=csv&scope=all",
        f"{BASE}/data?format=json&scope=all",
        f"{BASE}/data?format=pdf&scope=all",
        f"{BASE}/data?format=csv&scope=all&include_files=true",
        f"{BASE}/medications?format=pdf",
    ],
)
def test_query_count_does_not_grow_with_records(alice_api, shared_patient, url):
    def add(n):
        doctor = PractitionerFactory()
        for _ in range(n):
            MedicationFactory(patient=shared_patient, practitioner=doctor)
            VitalsFactory(patient=shared_patient, practitioner=doctor)
            lab = LabResultFactory(patient=shared_patient, practitioner=doctor)
            LabTestComponentFactory(patient=shared_patient, lab_result=lab)

    add(2)
    few = _queries_for(alice_api, url)
    add(18)
    assert _queries_for(alice_api, url) == few


def test_bulk_query_count_does_not_grow(alice_api, shared_patient):
    body = {"scopes": ["all"], "format": "csv"}
    MedicationFactory.create_batch(2, patient=shared_patient)
    few = _queries_for(alice_api, f"{BASE}/bulk", "post", body)
    MedicationFactory.create_batch(20, patient=shared_patient)
    assert _queries_for(alice_api, f"{BASE}/bulk", "post", body) == few


# --- PDF ------------------------------------------------------------------------------------


@pytest.fixture
def international(alice):
    patient = PatientFactory(owner=alice, first_name="Zoë", last_name="Ковалёва")
    MedicationFactory(patient=patient, medication_name="Café crème", notes="Prise le matin")
    MedicationFactory(patient=patient, medication_name="Аспирин", dosage="100 мг")
    AllergyFactory(patient=patient, allergen="Erdnüsse")
    return patient


def _pdf_of(client, patient, query="format=pdf&scope=all") -> bytes:
    response = client.get(f"{BASE}/data?{query}&patient_id={patient.pk}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"
    return body_of(response)


def test_pdf_text_keeps_accented_and_cyrillic_names(alice_api, international):
    document = _pdf_of(alice_api, international)
    reader = PdfReader(io.BytesIO(document))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("Zoë", "Ковалёва", "Café crème", "Аспирин", "100 мг", "Erdnüsse"):
        assert expected in text, expected
    assert "Medications" in text and "Allergies" in text
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].get_object().values()
    }
    assert any("MediKeepSans" in name or "DejaVu" in name for name in fonts), fonts


def test_pdf_without_patient_info_leaves_the_patient_out(alice_api, international):
    document = _pdf_of(alice_api, international, "format=pdf&scope=all&include_patient_info=false")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)
    assert "Ковалёва" not in text
    assert "Аспирин" in text


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed"
)
def test_pdf_page_renders_with_pdftoppm(alice_api, international, tmp_path):
    source = tmp_path / "export.pdf"
    source.write_bytes(_pdf_of(alice_api, international))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(source), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pages = list(tmp_path.glob("page*.png"))
    assert len(pages) == 1
    from PIL import Image

    with Image.open(pages[0]) as image:
        assert image.size[0] > 300 and image.size[1] > 400  # A4 at 50 dpi: 413 x 585
        # Something was drawn: not a blank page.
        extrema = image.convert("L").getextrema()
        assert extrema[0] < 128


def test_pdf_with_too_many_rows_is_refused(alice_api, shared_patient, monkeypatch):
    monkeypatch.setattr(pdf_writer, "PDF_MAX_ROWS", 3)
    MedicationFactory.create_batch(4, patient=shared_patient)
    response = alice_api.get(f"{BASE}/data?format=pdf&scope=medications")
    assert response.status_code == 422
    assert "CSV" in response.json()["error"]
    assert alice_api.get(f"{BASE}/data?format=csv&scope=medications").status_code == 200


def test_pdf_gathers_long_fields_under_details(alice_api, shared_patient):
    MedicationFactory(patient=shared_patient, medication_name="Metformin", notes="With food")
    document = body_of(alice_api.get(f"{BASE}/medications?format=pdf"))
    text = PdfReader(io.BytesIO(document)).pages[0].extract_text()
    assert "Details" in text
    assert "Notes: With food" in text


# --- zips with files ------------------------------------------------------------------------


def _upload(client, entity_type, entity_id, name, content):
    response = client.post(
        f"/api/v1/entity-files/{entity_type}/{entity_id}/files",
        {"file": upload_of(name, content)},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return EntityFile.objects.get(pk=response.json()["id"])


def test_include_files_zips_the_export_and_the_live_files(alice_api, shared_patient):
    medication = MedicationFactory(patient=shared_patient, medication_name="Insulin")
    vitals = VitalsFactory(patient=shared_patient)
    kept = _upload(alice_api, "medication", medication.pk, "scan.pdf", PDF)
    image = _upload(alice_api, "vitals", vitals.pk, "chart.png", png_bytes())
    trashed = _upload(alice_api, "medication", medication.pk, "old.pdf", PDF + b"%old")
    assert alice_api.delete(f"/api/v1/entity-files/files/{trashed.pk}").status_code in (200, 204)
    other = MedicationFactory()  # another patient's record and file
    EntityFile.objects.create(
        patient=other.patient,
        entity_type="medication",
        entity_id=other.pk,
        file_name="theirs.pdf",
        stored_name="medication/theirs.pdf",
        file_size=3,
        file_type="application/pdf",
        sha256="0" * 64,
    )

    response = alice_api.get(f"{BASE}/data?format=csv&scope=all&include_files=true")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert ".zip" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(body_of(response)))
    names = archive.namelist()
    scan = f"files/medications/medication-{medication.pk}/{kept.pk}-scan.pdf"
    chart = f"files/vitals/vital-{vitals.pk}/{image.pk}-chart.png"
    assert scan in names and chart in names
    assert archive.read(scan) == PDF
    assert archive.read(chart) == png_bytes()
    assert not any("old.pdf" in name or "theirs" in name for name in names)
    export = next(name for name in names if name.endswith(".csv"))
    assert "Insulin" in archive.read(export).decode("utf-8-sig")
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["attached_files"] == 2 and manifest["files_not_found"] == []
    assert archive.testzip() is None


def test_include_files_scope_limits_the_files(alice_api, shared_patient):
    medication = MedicationFactory(patient=shared_patient)
    vitals = VitalsFactory(patient=shared_patient)
    _upload(alice_api, "medication", medication.pk, "scan.pdf", PDF)
    _upload(alice_api, "vitals", vitals.pk, "chart.png", png_bytes())
    response = alice_api.get(f"{BASE}/data?format=json&scope=vitals&include_files=true")
    names = zipfile.ZipFile(io.BytesIO(body_of(response))).namelist()
    assert [n for n in names if n.startswith("files/")] == [
        n for n in names if n.startswith("files/vitals/")
    ]
    assert any(n.endswith("chart.png") for n in names)


def test_a_file_missing_from_storage_is_reported_not_fatal(alice_api, shared_patient):
    from files import storage

    medication = MedicationFactory(patient=shared_patient)
    stored = _upload(alice_api, "medication", medication.pk, "gone.pdf", PDF)
    storage.delete(stored.stored_name)
    response = alice_api.get(f"{BASE}/data?format=pdf&scope=medications&include_files=true")
    archive = zipfile.ZipFile(io.BytesIO(body_of(response)))
    manifest = json.loads(archive.read("manifest.json"))
    assert len(manifest["files_not_found"]) == 1
    assert manifest["files_not_found"][0].endswith("gone.pdf")
    pdf_name = next(
        name for name in archive.namelist() if name.endswith(".pdf") and "/" not in name
    )
    assert archive.read(pdf_name).startswith(b"%PDF")


def test_zip_streams_in_chunks(alice_api, shared_patient):
    medication = MedicationFactory(patient=shared_patient)
    _upload(alice_api, "medication", medication.pk, "scan.pdf", PDF)
    response = alice_api.get(f"{BASE}/data?format=csv&scope=medications&include_files=true")
    assert len(chunks_of(response)) > 1


def test_dates_are_iso_in_csv(alice_api, shared_patient):
    MedicationFactory(patient=shared_patient, effective_period_start=date(2023, 2, 1))
    rows = csv_rows(alice_api.get(f"{BASE}/medications"))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["Effective period start"] == "2023-02-01"
    assert record["Created at"][:4].isdigit() and "T" in record["Created at"]
    assert record["Reminder enabled"] == "false"
    assert record["Effective period end"] == ""


@pytest.mark.parametrize("scope,carries_patient_csv", [("medications", True), ("all", False)])
def test_a_plain_csv_in_a_zip_has_the_patient_beside_it(
    alice_api, shared_patient, scope, carries_patient_csv
):
    MedicationFactory(patient=shared_patient)
    response = alice_api.get(f"{BASE}/data?format=csv&scope={scope}&include_files=true")
    archive = zipfile.ZipFile(io.BytesIO(body_of(response)))
    assert ("patient.csv" in archive.namelist()) is carries_patient_csv
    export = next(n for n in archive.namelist() if n.startswith("medikeep-"))
    # The sectioned CSV carries the patient's section itself.
    assert ("Patient" in archive.read(export).decode("utf-8-sig").splitlines()[0]) is not (
        carries_patient_csv
    )
