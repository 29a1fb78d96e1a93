"""The report PDF itself: read back with pypdf, and a page rendered with pdftoppm."""

import datetime as dt
import io
import shutil
import subprocess

import pytest
from django.utils import timezone
from pypdf import PdfReader

from patients.tests.factories import PatientFactory
from records.models import GeneratedReport
from records.tests.factories import (
    FamilyConditionFactory,
    FamilyMemberFactory,
    LabTestComponentFactory,
    MedicationFactory,
    VitalsFactory,
)

pytestmark = pytest.mark.django_db

GENERATE = "/api/v1/custom-reports/generate"


@pytest.fixture(autouse=True)
def report_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "reports"},
        },
    }


@pytest.fixture
def accented(alice):
    patient = PatientFactory(
        owner=alice, first_name="Zoë", last_name="Ångström-Łukasz", birth_date=dt.date(1980, 2, 29)
    )
    alice.active_patient = patient
    alice.save(update_fields=["active_patient"])
    return patient


def generate(api, body) -> bytes:
    response = api.post(GENERATE, body, format="json")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def text_of(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def readings(patient, days=30):
    start = timezone.make_aware(dt.datetime(2024, 1, 1, 8))
    for day in range(days):
        VitalsFactory(
            patient=patient,
            recorded_date=start + dt.timedelta(days=day),
            systolic_bp=118 + day % 9,
            diastolic_bp=76 + day % 5,
            weight=150 + day / 10,
        )


def photo_of(patient):
    from django.core.files.base import ContentFile
    from PIL import Image

    from patients.models import PatientPhoto

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, "JPEG")
    photo = PatientPhoto(patient=patient, file_size=len(buffer.getvalue()), width=40, height=30)
    photo.file.save("me.jpg", ContentFile(buffer.getvalue()), save=False)
    photo.save()
    return photo


def images_in(content: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(content)).pages)


class TestContent:
    def test_names_records_charts_and_page_numbers(self, alice_api, accented):
        med = MedicationFactory(patient=accented, medication_name="Ибупрофен 200 mg")
        readings(accented)
        vital_ids = list(accented.records_vitals_set.values_list("id", flat=True)[:3])
        content = generate(
            alice_api,
            {
                "selected_records": [
                    {"category": "medications", "record_ids": [med.pk]},
                    {"category": "vitals", "record_ids": vital_ids},
                ],
                "report_title": "Überblick für Zoë",
                "include_patient_info": True,
                "include_summary": True,
                "include_profile_picture": False,
                "trend_charts": {
                    "vital_charts": [
                        {
                            "vital_type": "blood_pressure",
                            "date_from": "2024-01-01",
                            "date_to": "2024-12-31",
                        },
                        {"vital_type": "weight", "date_from": None, "date_to": None},
                    ],
                    "lab_test_charts": [],
                },
            },
        )
        text = text_of(content)
        assert "Überblick für Zoë" in text
        assert "Zoë Ångström-Łukasz" in text and "1980-02-29" in text
        assert "Ибупрофен 200 mg" in text
        assert "Blood pressure (mmHg)" in text and "Weight (lb)" in text
        assert "Systolic blood pressure" in text  # the legend
        assert "Summary" in text and "page 1" in text
        reader = PdfReader(io.BytesIO(content))
        assert reader.metadata.title == "Überblick für Zoë"
        fonts = {
            str(font["/BaseFont"])
            for page in reader.pages
            for font in page["/Resources"]["/Font"].values()
        }
        # The font is embedded (a subset), so any reader shows the same glyphs.
        assert any("MediKeepSans" in name or "DejaVu" in name for name in fonts), fonts

    def test_records_sorted_by_date_with_their_children(self, alice_api, patient):
        later = MedicationFactory(
            patient=patient, medication_name="Later", effective_period_start=dt.date(2024, 5, 1)
        )
        earlier = MedicationFactory(
            patient=patient, medication_name="Earlier", effective_period_start=dt.date(2023, 5, 1)
        )
        father = FamilyMemberFactory(patient=patient, name="Jiří Novák")
        FamilyConditionFactory(patient=patient, family_member=father, condition_name="Gout")
        content = generate(
            alice_api,
            {
                "selected_records": [
                    {"category": "medications", "record_ids": [later.pk, earlier.pk]},
                    {"category": "family_history", "record_ids": [father.pk]},
                ],
                "include_summary": False,
            },
        )
        text = text_of(content)
        assert text.index("Earlier") < text.index("Later")
        assert "Jiří Novák" in text and "Gout" in text
        assert "Summary" not in text

    def test_the_profile_picture_when_asked(self, alice_api, patient, settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path
        photo_of(patient)
        med = MedicationFactory(patient=patient)
        body = {"selected_records": [{"category": "medications", "record_ids": [med.pk]}]}
        with_photo = generate(alice_api, {**body, "include_profile_picture": True})
        without = generate(alice_api, {**body, "include_profile_picture": False})
        assert images_in(with_photo) == 1 and images_in(without) == 0

    def test_lab_trend_chart(self, alice_api, patient):
        for day, value in ((1, 90), (40, 104), (80, 97)):
            component = LabTestComponentFactory(
                patient=patient, test_name="Glucose", unit="mg/dL", value=value
            )
            component.lab_result.completed_date = dt.date(2024, 1, 1) + dt.timedelta(days=day)
            component.lab_result.save()
        content = generate(
            alice_api,
            {
                "selected_records": [],
                "trend_charts": {
                    "vital_charts": [],
                    "lab_test_charts": [
                        {
                            "test_name": "Glucose",
                            "unit": "mg/dL",
                            "date_from": None,
                            "date_to": None,
                        }
                    ],
                },
            },
        )
        assert "Glucose (mg/dL)" in text_of(content)

    def test_the_spec_summary_draws_the_vitals_it_covers(self, alice_api, patient):
        readings(patient, days=10)
        content = generate(
            alice_api,
            {
                "report_type": "medical_summary",
                "date_range": {"start": "2024-01-01", "end": "2024-12-31"},
                "include_sections": ["vitals"],
            },
        )
        text = text_of(content)
        assert "Blood pressure (mmHg)" in text and "Heart rate (bpm)" in text
        assert GeneratedReport.objects.get().record_count == 10


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm (Debian package poppler-utils) absent"
)
def test_a_page_renders(alice_api, accented, tmp_path):
    readings(accented, days=5)
    content = generate(
        alice_api,
        {
            "report_type": "medical_summary",
            "include_sections": ["vitals", "medications"],
        },
    )
    source = tmp_path / "report.pdf"
    source.write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(source), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pages = list(tmp_path.glob("page*.png"))
    assert len(pages) == 1
    png = pages[0].read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 2000
