"""Vitals import from a device export: Dexcom Clarity CSV (web-client-api.md §5.10)."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from records.models import Vitals
from records.services import vitals_import
from records.tests.factories import VitalsFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/vitals"

HEADER = (
    "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,"
    "Source Device ID,Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),"
    "Duration (hh:mm:ss),Glucose Rate of Change (mg/dL/min),Transmitter Time (Long Integer),"
    "Transmitter ID"
)
CLARITY = "\n".join(
    [
        HEADER,
        "1,,FirstName,,Alice,,,,,,,,,",
        "2,,LastName,,Owner,,,,,,,,,",
        "3,,Device,,,Dexcom G7 Mobile App,Android G7,,,,,,,",
        "4,2025-01-15T08:00:00,EGV,,,,Android G7,105,,,,1.2,123456,ABC123",
        "5,2025-01-15T08:05:00,EGV,,,,Android G7,110,,,,1.0,123756,ABC123",
        "6,2025-01-15T08:10:00,EGV,,,,Android G7,Low,,,,,124056,ABC123",
        "7,2025-01-15T08:15:00,EGV,,,,Android G7,High,,,,,124356,ABC123",
        "8,2025-01-15T08:20:00,Carbs,,,,Android G7,,,30,,,,",
        "9,2025-01-16T09:00:00,EGV,,,,Android G7,98,,,,0.1,200000,ABC123",
        "10,2025-01-16T09:05:00,EGV,,,,Android G7,abc,,,,,200300,ABC123",
        "11,2025-01-16T09:10:00,EGV,,,,Android G7,900,,,,,200600,ABC123",
    ]
)


def upload(content=CLARITY, name="clarity.csv", **fields):
    data = content.encode() if isinstance(content, str) else content
    return {
        "device_key": "dexcom_clarity",
        "file": SimpleUploadedFile(name, data, content_type="text/csv"),
        **fields,
    }


def url(patient, step):
    return f"{BASE}/patient/{patient.pk}/import/{step}"


def local(text):
    return timezone.make_aware(dt.datetime.fromisoformat(text))


def test_devices(alice_api, patient):
    response = alice_api.get(f"{BASE}/import/devices")
    assert response.status_code == 200
    assert {"key": "dexcom_clarity", "name": "Dexcom Clarity (CSV)"} in response.json()["devices"]


def test_preview_writes_nothing(alice_api, patient):
    VitalsFactory(patient=patient, recorded_date=local("2025-01-15T08:05:00"), blood_glucose=111)
    response = alice_api.post(url(patient, "preview"), upload(), format="multipart")
    assert response.status_code == 200, response.content
    got = response.json()
    assert got["device_name"] == "Dexcom Clarity (CSV)"
    assert (got["total_readings"], got["duplicate_count"], got["new_count"]) == (3, 1, 2)
    assert [row["blood_glucose"] for row in got["preview_rows"]] == [105, 110, 98]
    assert [row["is_duplicate"] for row in got["preview_rows"]] == [False, True, False]
    assert got["preview_rows"][0]["device_used"] == "Dexcom G7 Mobile App"
    # FirstName, LastName, Device, Carbs, Low, High, "abc", 900
    assert got["skipped_rows"] == 8
    assert len(got["errors"]) == 2 and "Row 12" in got["errors"][1]
    assert "Low or High" in got["warnings"][0]
    assert got["date_range_start"].startswith("2025-01-15")
    assert got["date_range_end"].startswith("2025-01-16")
    assert Vitals.objects.count() == 1


def test_execute_skips_duplicates_and_marks_the_source(alice_api, patient):
    VitalsFactory(patient=patient, recorded_date=local("2025-01-15T08:05:00"), blood_glucose=111)
    response = alice_api.post(
        url(patient, "execute"), upload(skip_duplicates="true"), format="multipart"
    )
    assert response.status_code == 200, response.content
    got = response.json()
    assert (got["imported_count"], got["skipped_duplicates"], got["total_processed"]) == (2, 1, 3)
    assert len(got["errors"]) == 2
    imported = Vitals.objects.filter(import_source="dexcom_clarity").order_by("recorded_date")
    assert [v.blood_glucose for v in imported] == [105, 98]
    assert imported[0].recorded_date == local("2025-01-15T08:00:00")
    # The same file again: everything is a duplicate now.
    again = alice_api.post(url(patient, "execute"), upload(), format="multipart").json()
    assert (again["imported_count"], again["skipped_duplicates"]) == (0, 3)
    listed = alice_api.get(f"{BASE}/patient/{patient.pk}").json()
    assert {row["import_source"] for row in listed} == {"dexcom_clarity", ""}


def test_execute_without_skipping_duplicates(alice_api, patient):
    VitalsFactory(patient=patient, recorded_date=local("2025-01-15T08:05:00"), blood_glucose=111)
    got = alice_api.post(
        url(patient, "execute"), upload(skip_duplicates="false"), format="multipart"
    ).json()
    assert (got["imported_count"], got["skipped_duplicates"]) == (3, 0)


def test_execute_is_all_or_nothing(alice_api, patient, monkeypatch):
    original = Vitals.objects.bulk_create

    def first_row_then_fail(rows, **kwargs):
        original(rows[:1], **kwargs)  # written, then the rest fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(Vitals.objects, "bulk_create", first_row_then_fail)
    response = alice_api.post(url(patient, "execute"), upload(), format="multipart")
    assert response.status_code == 500
    assert not Vitals.objects.exists()


def test_delete_one_imported_day(alice_api, patient):
    alice_api.post(url(patient, "execute"), upload(), format="multipart")
    manual = VitalsFactory(patient=patient, recorded_date=local("2025-01-15T12:00:00"))
    response = alice_api.delete(
        f"{BASE}/patient/{patient.pk}/import/dexcom_clarity/date/2025-01-15"
    )
    assert response.status_code == 200, response.content
    assert response.json()["deleted_count"] == 2
    left = set(Vitals.objects.values_list("pk", flat=True))
    assert manual.pk in left and len(left) == 2  # the manual one and 2025-01-16
    bad = alice_api.delete(f"{BASE}/patient/{patient.pk}/import/dexcom_clarity/date/15-01-2025")
    assert bad.status_code == 422


def test_latin1_and_bom_files(alice_api, patient):
    text = CLARITY.replace("Owner", "Müller")
    for data in (text.encode("latin-1"), b"\xef\xbb\xbf" + text.encode()):
        got = alice_api.post(url(patient, "preview"), upload(data), format="multipart")
        assert got.status_code == 200 and got.json()["total_readings"] == 3


def test_mmol_exports_are_converted(alice_api, patient):
    text = "\n".join(
        ["Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Glucose Value (mmol/L)"]
        + ["1,2025-01-15T08:00:00,EGV,5.5"]
    )
    got = alice_api.post(url(patient, "preview"), upload(text), format="multipart").json()
    assert got["preview_rows"][0]["blood_glucose"] == 99.1


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"file": SimpleUploadedFile("x.csv", b"name,value\nAlice,1\n")}, 400),  # wrong columns
        ({"file": SimpleUploadedFile("x.pdf", b"%PDF-1.4\x00\x01\x02binary")}, 400),  # not text
        ({"file": SimpleUploadedFile("x.csv", b"")}, 422),  # empty upload
        ({"device_key": "fitbit"}, 422),
        ({"file": ""}, 422),
    ],
)
def test_bad_uploads(alice_api, patient, fields, status):
    response = alice_api.post(url(patient, "preview"), upload(**fields), format="multipart")
    assert response.status_code == status, response.content
    assert response.json()["error"]
    assert not Vitals.objects.exists()


def test_file_over_10_mb_is_413(alice_api, patient, monkeypatch):
    monkeypatch.setattr("records.api.vitals_import.MAX_FILE_BYTES", 100)
    response = alice_api.post(url(patient, "execute"), upload(), format="multipart")
    assert response.status_code == 413
    assert not Vitals.objects.exists()


def test_oversized_text_is_refused_by_the_service():
    with pytest.raises(vitals_import.ImportFileError):
        vitals_import.decode(b"x" * (vitals_import.MAX_FILE_BYTES + 1))


def test_access(client_for, anon, bob, carol, mallory, shared_patient):
    for step in ("preview", "execute"):
        assert client_for(bob).post(url(shared_patient, step), upload()).status_code == 403
        assert client_for(mallory).post(url(shared_patient, step), upload()).status_code in (
            403,
            404,
        )
        assert anon.post(url(shared_patient, step), upload()).status_code == 401
    assert not Vitals.objects.exists()
    done = client_for(carol).post(url(shared_patient, "execute"), upload())
    assert done.status_code == 200 and done.json()["imported_count"] == 3
    day = f"{BASE}/patient/{shared_patient.pk}/import/dexcom_clarity/date/2025-01-15"
    assert client_for(bob).delete(day).status_code == 403
    assert client_for(mallory).delete(day).status_code in (403, 404)
    assert Vitals.objects.count() == 3
    assert client_for(carol).delete(day).json()["deleted_count"] == 2
