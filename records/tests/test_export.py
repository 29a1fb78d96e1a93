"""Export: summary, formats, data, bulk and /export/{record_type} — who may export, what comes
out, and refusals (never a 500)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from patients.models import PatientShare
from records.export.scopes import all_scopes
from records.models import Medication
from records.tests.factories import (
    AllergyFactory,
    FamilyConditionFactory,
    FamilyMemberFactory,
    LabResultFactory,
    LabTestComponentFactory,
    MedicationFactory,
    PharmacyFactory,
    PractitionerFactory,
    VitalsFactory,
)

BASE = "/api/v1/export"
pytestmark = pytest.mark.django_db


def body_of(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse), type(response)
    return b"".join(response.streaming_content)


def csv_rows(response) -> list[list[str]]:
    text = body_of(response).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def records(shared_patient):
    doctor = PractitionerFactory(name="Dr. Zoë Ångström")
    pharmacy = PharmacyFactory(name="Apteka Ромашка")
    meds = [
        MedicationFactory(
            patient=shared_patient,
            medication_name=f"Med {i}",
            practitioner=doctor,
            pharmacy=pharmacy,
            effective_period_start=date(2024, 1, 1) + timedelta(days=i),
        )
        for i in range(3)
    ]
    AllergyFactory(patient=shared_patient, allergen="Peanuts")
    return {"doctor": doctor, "pharmacy": pharmacy, "meds": meds}


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", f"{BASE}/summary"),
        ("get", f"{BASE}/formats"),
        ("get", f"{BASE}/data?format=csv&scope=medications"),
        ("post", f"{BASE}/bulk"),
        ("get", f"{BASE}/medications"),
    ],
)
def test_anonymous_is_refused(anon, method, url):
    response = getattr(anon, method)(url, format="json") if method == "post" else anon.get(url)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/summary?patient_id={{pid}}",
        f"{BASE}/data?format=csv&scope=medications&patient_id={{pid}}",
        f"{BASE}/medications?patient_id={{pid}}",
    ],
)
def test_stranger_patient_id_is_403(client_for, mallory, records, shared_patient, url):
    response = client_for(mallory).get(url.format(pid=shared_patient.pk))
    assert response.status_code == 403
    assert response.json()["status"] == "error"


def test_stranger_bulk_is_403(client_for, mallory, records, shared_patient):
    response = client_for(mallory).post(
        f"{BASE}/bulk",
        {"scopes": ["medications"], "format": "csv", "patient_id": shared_patient.pk},
        format="json",
    )
    assert response.status_code == 403


def test_view_share_may_export(client_for, bob, records, shared_patient):
    response = client_for(bob).get(f"{BASE}/medications?patient_id={shared_patient.pk}")
    assert response.status_code == 200
    names = [row[1] for row in csv_rows(response)[1:]]
    assert sorted(names) == ["Med 0", "Med 1", "Med 2"]


def test_without_patient_id_the_active_patient_is_exported(alice_api, records):
    response = alice_api.get(f"{BASE}/data?format=csv&scope=allergies")
    assert response.status_code == 200
    assert "Peanuts" in body_of(response).decode()


def test_user_without_patients_gets_no_active_patient(client_for, mallory):
    response = client_for(mallory).get(f"{BASE}/summary")
    assert response.status_code == 400
    assert "No active patient" in response.json()["error"]


def test_revoked_share_can_no_longer_export(client_for, bob, records, shared_patient):
    """Inventory §10 #36: the active patient is re-checked on every call."""
    bob.active_patient_id = shared_patient.pk
    bob.save(update_fields=["active_patient"])
    bob_api = client_for(bob)
    assert bob_api.get(f"{BASE}/data?format=csv&scope=medications").status_code == 200
    PatientShare.objects.filter(patient=shared_patient, grantee=bob).update(is_active=False)
    # With the id given: 403. Without: the active pointer no longer resolves to alice's patient.
    again = bob_api.get(f"{BASE}/data?format=csv&scope=medications&patient_id={shared_patient.pk}")
    assert again.status_code == 403
    implicit = bob_api.get(f"{BASE}/data?format=csv&scope=medications")
    assert implicit.status_code == 400  # bob has no patient of his own left to export
    assert client_for(bob).get(f"{BASE}/summary").status_code == 400


# --- summary and formats ------------------------------------------------------------------


def test_summary_counts_every_scope_in_one_query(
    alice_api, records, shared_patient, django_assert_num_queries
):
    LabResultFactory.create_batch(2, patient=shared_patient)
    lab = LabResultFactory(patient=shared_patient)
    LabTestComponentFactory.create_batch(3, patient=shared_patient, lab_result=lab)
    # auth user, active-patient check (one access query), counts (one), patient name (one)
    with django_assert_num_queries(4):
        response = alice_api.get(f"{BASE}/summary")
    assert response.status_code == 200
    data = response.json()["data"]
    counts = data["counts"]
    assert set(counts) == set(all_scopes())
    assert counts["medications"] == 3
    assert counts["allergies"] == 1
    assert counts["lab_results"] == 6  # 3 results and their 3 components
    assert counts["practitioners"] == 1
    assert counts["pharmacies"] == 1
    assert counts["vitals"] == 0
    assert counts["patient"] == 1  # the patient's own details, a scope of their own
    assert data["total_records"] == sum(counts.values()) - 1
    assert data["patient_name"] == "Alice Owner"


def test_summary_counts_other_patients_records_not(alice_api, records, shared_patient):
    MedicationFactory.create_batch(4)  # other patients'
    assert alice_api.get(f"{BASE}/summary").json()["data"]["counts"]["medications"] == 3


def test_formats_lists_formats_and_every_scope(alice_api):
    body = alice_api.get(f"{BASE}/formats").json()
    assert [f["value"] for f in body["formats"]] == ["json", "csv", "pdf"]
    values = [s["value"] for s in body["scopes"]]
    assert values[0] == "all"
    assert set(values[1:]) == set(all_scopes())
    for expected in ("lab_results", "family_history", "insurance", "practitioners", "pharmacies"):
        assert expected in values
    assert all(s["label"] and s["description"] for s in body["scopes"])


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "format=xml&scope=all",
        "format=csv&scope=nope",
        "format=csv&scope=all&start_date=yesterday",
        "format=csv&scope=all&start_date=2024-05-01&end_date=2024-01-01",
        "format=csv&scope=all&unit_system=furlongs",
        "format=csv&scope=all&include_files=maybe",
    ],
)
def test_bad_data_query_is_422(alice_api, records, query):
    response = alice_api.get(f"{BASE}/data?{query}")
    assert response.status_code == 422, response.content
    assert response.json()["status"] == "error"


def test_no_data_in_range_is_404(alice_api, records):
    response = alice_api.get(
        f"{BASE}/data?format=csv&scope=medications&start_date=2030-01-01&end_date=2030-12-31"
    )
    assert response.status_code == 404
    assert "No data found" in response.json()["error"]


def test_empty_scope_is_404(alice_api, records):
    assert alice_api.get(f"{BASE}/data?format=json&scope=vitals").status_code == 404


def test_unknown_record_type_is_404(alice_api, records):
    assert alice_api.get(f"{BASE}/spaceships").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"scopes": [], "format": "csv"},
        {"scopes": ["nope"], "format": "csv"},
        {"scopes": ["medications"], "format": "doc"},
        {"scopes": "medications", "format": "csv"},
        {"scopes": ["medications"], "format": "csv", "start_date": "2024-13-01"},
    ],
)
def test_bad_bulk_body_is_422(alice_api, records, body):
    response = alice_api.post(f"{BASE}/bulk", body, format="json")
    assert response.status_code == 422, response.content


# --- the data ------------------------------------------------------------------------------


def test_csv_columns_and_joined_names(alice_api, records):
    response = alice_api.get(f"{BASE}/data?format=csv&scope=medications")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    assert ".csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    header = rows[0]
    assert header[:2] == ["ID", "Medication name"]
    assert "Practitioner" in header and "Pharmacy" in header
    first = dict(zip(header, rows[1], strict=True))
    assert first["Practitioner"] == "Dr. Zoë Ångström"
    assert first["Pharmacy"] == "Apteka Ромашка"
    assert first["Effective period start"] == "2024-01-03"  # ISO date; newest first


def test_csv_date_range_filters_on_the_kind_date(alice_api, records):
    response = alice_api.get(
        f"{BASE}/data?format=csv&scope=medications&start_date=2024-01-02&end_date=2024-01-02"
    )
    rows = csv_rows(response)
    assert [row[1] for row in rows[1:]] == ["Med 1"]


def test_undated_types_are_exported_whole_in_a_date_range(alice_api, shared_patient):
    member = FamilyMemberFactory(patient=shared_patient, name="Grandma")
    FamilyConditionFactory(patient=shared_patient, family_member=member, condition_name="Gout")
    response = alice_api.get(
        f"{BASE}/data?format=csv&scope=family_history&start_date=2001-01-01&end_date=2001-12-31"
    )
    text = body_of(response).decode()
    assert "Grandma" in text and "Gout" in text


def test_child_type_follows_its_parents_date(alice_api, shared_patient):
    old = LabResultFactory(
        patient=shared_patient, test_name="Old panel", completed_date=date(2020, 1, 1)
    )
    new = LabResultFactory(
        patient=shared_patient, test_name="New panel", completed_date=date(2024, 6, 1)
    )
    LabTestComponentFactory(patient=shared_patient, lab_result=old, test_name="Old sodium")
    LabTestComponentFactory(patient=shared_patient, lab_result=new, test_name="New sodium")
    response = alice_api.get(f"{BASE}/data?format=json&scope=lab_results&start_date=2024-01-01")
    rows = json.loads(body_of(response))["records"]["lab_results"]
    names = {(row["type"], row["test_name"]) for row in rows}
    assert names == {("lab_result", "New panel"), ("lab_test_component", "New sodium")}


def test_json_shape(alice_api, records, shared_patient):
    response = alice_api.get(f"{BASE}/data?format=json&scope=all&include_patient_info=true")
    assert response["Content-Type"] == "application/json"
    document = json.loads(body_of(response))
    assert document["scope"] == "all"
    assert document["patient"]["first_name"] == "Alice"
    assert document["counts"]["medications"] == 3
    meds = document["records"]["medications"]
    assert {m["medication_name"] for m in meds} == {"Med 0", "Med 1", "Med 2"}
    assert meds[0]["type"] == "medication"
    assert meds[0]["practitioner_name"] == "Dr. Zoë Ångström"
    assert "patient" not in meds[0] and "tag_index" not in meds[0]
    assert set(document["records"]) == {"medications", "allergies", "practitioners", "pharmacies"}
    practitioners = document["records"]["practitioners"]
    assert [p["name"] for p in practitioners] == ["Dr. Zoë Ångström"]


def test_json_without_patient_info(alice_api, records):
    response = alice_api.get(
        f"{BASE}/data?format=json&scope=medications&include_patient_info=false"
    )
    document = json.loads(body_of(response))
    assert "patient" not in document
    assert "alice" not in response["Content-Disposition"].lower()


def test_directory_scopes_hold_only_entries_linked_to_the_patient(alice_api, records):
    PractitionerFactory(name="Dr. Unrelated")
    body = body_of(alice_api.get(f"{BASE}/data?format=csv&scope=practitioners")).decode()
    assert "Dr. Zoë Ångström" in body
    assert "Dr. Unrelated" not in body


@pytest.mark.parametrize("fmt", ["json", "csv", "pdf"])
def test_the_patient_scope_exports_the_patients_details(alice_api, records, fmt):
    # The web app's single export starts on scope=patient.
    query = f"{BASE}/data?format={fmt}&scope=patient&include_patient_info=false"
    response = alice_api.get(query)
    assert response.status_code == 200, response
    body = body_of(response) if isinstance(response, StreamingHttpResponse) else response.content
    if fmt == "json":
        rows = json.loads(body)["records"]["patient"]
        assert [(r["first_name"], r["last_name"]) for r in rows] == [("Alice", "Owner")]
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows[1][rows[0].index("First name")] == "Alice"
        assert len(rows) == 2
    else:
        assert body.startswith(b"%PDF")


def test_all_leaves_the_patient_table_to_the_patient_header(alice_api, records):
    document = json.loads(body_of(alice_api.get(f"{BASE}/data?format=json&scope=all")))
    assert "patient" not in document["records"]
    assert document["patient"]["first_name"] == "Alice"


def test_all_in_csv_is_sectioned(alice_api, records):
    rows = csv_rows(alice_api.get(f"{BASE}/data?format=csv&scope=all"))
    assert rows[0] == ["Patient"]
    titles = [row[0] for row in rows if len(row) == 1]
    assert "Medications: Medications" in titles
    assert "Allergies: Allergies" in titles


def test_record_type_accepts_route_prefixes_and_scope_names(alice_api, shared_patient):
    lab = LabResultFactory(patient=shared_patient, test_name="Lipid panel")
    LabTestComponentFactory(patient=shared_patient, lab_result=lab, test_name="LDL")
    for record_type in ("lab-results", "lab_results", "lab-test-components"):
        response = alice_api.get(f"{BASE}/{record_type}?patient_id={shared_patient.pk}")
        assert response.status_code == 200, record_type
        text = body_of(response).decode()
        assert "Lipid panel" in text and "LDL" in text
    pdf = alice_api.get(f"{BASE}/lab-results?patient_id={shared_patient.pk}&format=pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert body_of(pdf).startswith(b"%PDF")


def test_emergency_contacts_route(alice_api, shared_patient):
    from records.tests.factories import EmergencyContactFactory

    EmergencyContactFactory(patient=shared_patient, name="Ørjan")
    response = alice_api.get(f"{BASE}/emergency-contacts")
    assert response.status_code == 200
    assert "Ørjan" in body_of(response).decode()


# --- units --------------------------------------------------------------------------------


def test_metric_converts_vitals_and_labels_units(alice_api, shared_patient):
    VitalsFactory(patient=shared_patient, weight=154.0, height=70.0, temperature=98.6)
    imperial = csv_rows(alice_api.get(f"{BASE}/data?format=csv&scope=vitals"))
    metric = csv_rows(alice_api.get(f"{BASE}/data?format=csv&scope=vitals&unit_system=metric"))
    before = dict(zip(imperial[0], imperial[1], strict=True))
    after = dict(zip(metric[0], metric[1], strict=True))
    assert before["Weight (lb)"] == "154.0" and after["Weight (kg)"] == "69.9"
    assert before["Height (in)"] == "70.0" and after["Height (cm)"] == "177.8"
    assert before["Temperature (°F)"] == "98.6" and after["Temperature (°C)"] == "37.0"
    assert after["Blood glucose (mg/dL)"] == ""  # glucose keeps its unit


def test_metric_json_units_and_patient(alice_api, shared_patient):
    shared_patient.height, shared_patient.weight = 65.0, 200.0
    shared_patient.save()
    VitalsFactory(patient=shared_patient, weight=100.0)
    document = json.loads(
        body_of(alice_api.get(f"{BASE}/data?format=json&scope=vitals&unit_system=metric"))
    )
    assert document["units"]["vital"]["weight"] == "kg"
    assert document["records"]["vitals"][0]["weight"] == 45.4
    assert document["patient"]["height"] == 165.1
    assert document["patient"]["weight"] == 90.7


# --- zips -----------------------------------------------------------------------------------


def test_bulk_zip_has_a_file_per_scope_and_names_empty_ones(alice_api, records):
    response = alice_api.post(
        f"{BASE}/bulk",
        {"scopes": ["medications", "allergies", "vitals"], "format": "csv"},
        format="json",
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body_of(response)))
    assert set(archive.namelist()) == {
        "patient.csv",
        "medications.csv",
        "allergies.csv",
        "manifest.json",
    }
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["scopes_without_data"] == ["vitals"]
    assert manifest["files"] == {"medications.csv": 3, "allergies.csv": 1}
    meds = archive.read("medications.csv").decode("utf-8-sig")
    assert "Med 2" in meds
    assert "Alice" in archive.read("patient.csv").decode("utf-8-sig")


@pytest.mark.parametrize("fmt,magic", [("json", b"{"), ("pdf", b"%PDF")])
def test_bulk_in_other_formats(alice_api, records, fmt, magic):
    response = alice_api.post(f"{BASE}/bulk", {"scopes": ["all"], "format": fmt}, format="json")
    archive = zipfile.ZipFile(io.BytesIO(body_of(response)))
    assert f"medications.{fmt}" in archive.namelist()
    assert archive.read(f"medications.{fmt}").startswith(magic)
    assert "vitals" in json.loads(archive.read("manifest.json"))["scopes_without_data"]


def test_bulk_with_nothing_at_all_is_404(alice_api, records):
    response = alice_api.post(
        f"{BASE}/bulk", {"scopes": ["vitals", "injuries"], "format": "csv"}, format="json"
    )
    assert response.status_code == 404


def test_metric_temperature_of_a_stored_value(alice_api, shared_patient):
    VitalsFactory(patient=shared_patient, temperature=104.0)
    rows = csv_rows(alice_api.get(f"{BASE}/data?format=csv&scope=vitals&unit_system=metric"))
    assert dict(zip(rows[0], rows[1], strict=True))["Temperature (°C)"] == "40.0"


def test_the_medication_model_is_exported_by_its_kind():
    scope = all_scopes()[Medication.kind.export_scope]
    assert [section.model for section in scope.sections] == [Medication]


def test_expired_share_can_no_longer_export(client_for, bob, records, shared_patient):
    share = PatientShare.objects.get(patient=shared_patient, grantee=bob)
    share.expires_at = timezone.now() - timedelta(minutes=1)
    share.save(update_fields=["expires_at"])
    response = client_for(bob).get(f"{BASE}/medications?patient_id={shared_patient.pk}")
    assert response.status_code == 403


@pytest.mark.parametrize(
    "url,status",
    [
        (f"{BASE}/summary?start_date=not-a-date", 422),
        (f"{BASE}/summary?patient_id=abc", 422),
        (f"{BASE}/summary?patient_id=987654", 404),
        (f"{BASE}/medications?format=docx", 422),
        (f"{BASE}/medications?end_date=2024-01-01&start_date=2024-02-01", 422),
        (f"{BASE}/data?format=csv&scope=medications&patient_id=987654", 404),
    ],
)
def test_other_bad_queries(alice_api, records, url, status):
    response = alice_api.get(url)
    assert response.status_code == status, response.content
    assert response.json()["status"] == "error"


def test_summary_with_a_date_range_counts_what_a_dated_export_holds(alice_api, records):
    response = alice_api.get(f"{BASE}/summary?start_date=2024-01-02&end_date=2024-01-03")
    counts = response.json()["data"]["counts"]
    assert counts["medications"] == 2


def test_the_web_apps_query_with_empty_dates(alice_api, records):
    response = alice_api.get(
        f"{BASE}/data?format=json&scope=all&include_files=false&include_patient_info=true"
        "&unit_system=imperial&start_date=&end_date="
    )
    assert response.status_code == 200, response.content
    assert json.loads(body_of(response))["counts"]["medications"] == 3
