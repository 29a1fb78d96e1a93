"""The emergency summary: what it holds (only what is current, in the order that matters),
its query count, and the one-page PDF."""

import datetime as dt
import io
import shutil
import subprocess

import pytest
from django.utils import timezone
from pypdf import PdfReader

from interop.emergency.pdf import summary_pdf
from interop.emergency.summary import age_on, emergency_summary
from records.tests.factories import (
    AllergyFactory,
    ConditionFactory,
    EmergencyContactFactory,
    InsuranceFactory,
    MedicationFactory,
)

pytestmark = pytest.mark.django_db

SUMMARY = "/api/v1/patients/{}/emergency-summary"


@pytest.fixture
def filled(patient):
    """Alice's record with current and past items of every section."""
    patient.blood_type = "O-"
    patient.birth_date = dt.date(1980, 2, 29)
    patient.save()
    AllergyFactory(
        patient=patient, allergen="Peanuts", severity="life-threatening", reaction="Anaphylaxis"
    )
    AllergyFactory(patient=patient, allergen="Dust", severity="mild")
    AllergyFactory(patient=patient, allergen="Penicillin", severity="severe", reaction="Hives")
    AllergyFactory(patient=patient, allergen="Latex", status="resolved")
    ConditionFactory(patient=patient, condition_name="Asthma", status="chronic")
    ConditionFactory(patient=patient, condition_name="Diabetes type 1", status="active")
    ConditionFactory(patient=patient, condition_name="Broken arm", status="resolved")
    MedicationFactory(
        patient=patient, medication_name="Insulin", dosage="10 U", frequency="3x daily"
    )
    MedicationFactory(patient=patient, medication_name="Old pill", status="stopped")
    EmergencyContactFactory(patient=patient, name="Zed Friend")
    EmergencyContactFactory(
        patient=patient, name="Yan Spouse", relationship="spouse", is_primary=True
    )
    EmergencyContactFactory(patient=patient, name="Gone Person", is_active=False)
    InsuranceFactory(patient=patient, company_name="Dental Co", insurance_type="dental")
    InsuranceFactory(patient=patient, company_name="Main Health", is_primary=True)
    InsuranceFactory(patient=patient, company_name="Old Insurer", status="expired")
    InsuranceFactory(
        patient=patient,
        company_name="Lapsed Insurer",
        insurance_type="vision",
        expiration_date=dt.date(2025, 6, 30),
    )
    return patient


def test_age_counts_whole_years():
    assert age_on(dt.date(1980, 2, 29), dt.date(2024, 2, 28)) == 43
    assert age_on(dt.date(1980, 2, 29), dt.date(2024, 3, 1)) == 44
    assert age_on(dt.date(1980, 6, 15), dt.date(2024, 6, 15)) == 44
    assert age_on(None, dt.date(2024, 1, 1)) is None


def test_summary_holds_only_current_items_in_order(filled):
    summary = emergency_summary(filled)
    assert [a.allergen for a in summary.allergies] == ["Peanuts", "Penicillin", "Dust"]
    assert [c.condition_name for c in summary.conditions] == ["Asthma", "Diabetes type 1"]
    assert [m.medication_name for m in summary.medications] == ["Insulin"]
    assert [c.name for c in summary.emergency_contacts] == ["Yan Spouse", "Zed Friend"]
    assert [i.company_name for i in summary.insurances] == ["Main Health", "Dental Co"]


def test_summary_reads_a_fixed_number_of_queries(filled, django_assert_num_queries):
    # One per section; the patient object is given.
    with django_assert_num_queries(5):
        emergency_summary(filled)
    for _ in range(10):
        AllergyFactory(patient=filled)
        MedicationFactory(patient=filled)
        EmergencyContactFactory(patient=filled)
    with django_assert_num_queries(5):
        emergency_summary(filled)


def test_summary_endpoint_answers_the_json(alice_api, filled):
    response = alice_api.get(SUMMARY.format(filled.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["patient"]["name"] == "Alice Owner"
    assert body["patient"]["blood_type"] == "O-"
    assert body["patient"]["birth_date"] == "1980-02-29"
    assert body["patient"]["age"] == age_on(dt.date(1980, 2, 29), timezone.localdate())
    assert [a["allergen"] for a in body["allergies"]] == ["Peanuts", "Penicillin", "Dust"]
    assert body["allergies"][0] == {
        "allergen": "Peanuts",
        "severity": "life-threatening",
        "reaction": "Anaphylaxis",
        "onset_date": None,
        "notes": "",
    }
    assert body["medications"][0]["dosage"] == "10 U"
    assert body["medications"][0]["frequency"] == "3x daily"
    assert [c["name"] for c in body["emergency_contacts"]] == ["Yan Spouse", "Zed Friend"]
    assert body["emergency_contacts"][0]["is_primary"] is True
    assert [i["company_name"] for i in body["insurances"]] == ["Main Health", "Dental Co"]
    assert body["generated_at"]
    assert "id" not in body["allergies"][0]
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("suffix", ["", "/pdf", "/fhir"])
def test_summary_endpoints_refuse_without_access(anon, client_for, mallory, patient, suffix):
    url = SUMMARY.format(patient.pk) + suffix
    assert anon.get(url).status_code == 401
    assert client_for(mallory).get(url).status_code == 403
    assert client_for(mallory).get(SUMMARY.format(patient.pk + 999) + suffix).status_code == 404


def test_view_share_reads_the_summary(client_for, bob, shared_patient):
    assert client_for(bob).get(SUMMARY.format(shared_patient.pk)).status_code == 200
    assert client_for(bob).get(SUMMARY.format(shared_patient.pk) + "/pdf").status_code == 200


def pages_of(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_pdf_is_one_page_with_the_essentials(alice_api, filled):
    response = alice_api.get(SUMMARY.format(filled.pk) + "/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    pages = pages_of(response.content)
    assert len(pages) == 1
    text = pages[0]
    for expected in ("Alice Owner", "O-", "Peanuts", "Life-threatening", "Insulin", "10 U"):
        assert expected in text
    assert "Yan Spouse" in text and "Main Health" in text
    assert "Latex" not in text and "Old pill" not in text and "Broken arm" not in text


def test_pdf_stays_one_page_with_long_lists(filled):
    for n in range(40):
        AllergyFactory(patient=filled, allergen=f"Allergen number {n}", reaction="x" * 400)
        MedicationFactory(patient=filled, indication="y" * 400)
        ConditionFactory(patient=filled, condition_name="z" * 300)
    pages = pages_of(summary_pdf(emergency_summary(filled)))
    assert len(pages) == 1
    assert "more not shown on this page" in pages[0]
    assert "Peanuts" in pages[0]  # the most dangerous allergy is never cut


def test_pdf_handles_an_empty_record_and_accents(patient):
    patient.first_name, patient.last_name = "Zoë", "Ångström-Łukasz"
    patient.save()
    pages = pages_of(summary_pdf(emergency_summary(patient)))
    assert len(pages) == 1
    assert "Zoë Ångström-Łukasz" in pages[0]
    assert "None recorded." in pages[0]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm is not installed")
def test_pdf_renders_with_pdftoppm(filled, tmp_path):
    source = tmp_path / "summary.pdf"
    source.write_bytes(summary_pdf(emergency_summary(filled)))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(source), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert [p.name for p in tmp_path.glob("page*.png")] == ["page-1.png"]
