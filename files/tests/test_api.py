"""The /entity-files endpoints: every route, every persona, on local storage (the content and
storage tests run on S3 as well: test_content.py)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from files.models import EntityFile
from files.tests.helpers import PDF, factory_for, png_bytes, record_of_each_type, upload_of
from patients.tests.factories import PatientShareFactory
from records.models import Encounter, LabResult, Medication

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(local_files_storage):
    return local_files_storage


@pytest.fixture
def medication(shared_patient):
    return factory_for(Medication)(patient=shared_patient)


def upload(client, entity_type, entity_id, name="report.pdf", content=PDF, **form):
    return client.post(
        f"/api/v1/entity-files/{entity_type}/{entity_id}/files",
        {"file": upload_of(name, content), **form},
        format="multipart",
    )


@pytest.fixture
def stored(alice_api, medication):
    response = upload(alice_api, "medication", medication.pk, description="Scan")
    assert response.status_code == 200, response.content
    return EntityFile.objects.get(pk=response.json()["id"])


# --- personas ------------------------------------------------------------------------------


@pytest.fixture
def personas(client_for, alice, bob, carol, dave, mallory, admin_user, shared_patient, make_user):
    expired = make_user(username="erin")
    PatientShareFactory(
        patient=shared_patient,
        grantee=expired,
        level="edit",
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    revoked = make_user(username="rita")
    PatientShareFactory(patient=shared_patient, grantee=revoked, level="edit", is_active=False)
    from rest_framework.test import APIClient

    return {
        "owner": client_for(alice),
        "view": client_for(bob),
        "edit": client_for(carol),
        "full": client_for(dave),
        "expired": client_for(expired),
        "revoked": client_for(revoked),
        "stranger": client_for(mallory),
        "admin": client_for(admin_user),
        "anonymous": APIClient(),
    }


READERS = {"owner": 200, "view": 200, "edit": 200, "full": 200}
NO_ACCESS = {"expired": 404, "revoked": 404, "stranger": 404, "admin": 404, "anonymous": 401}
WRITERS = {"owner": 200, "view": 403, "edit": 200, "full": 200}


@pytest.mark.parametrize("persona", [*READERS, *NO_ACCESS])
def test_reading_routes_by_persona(personas, persona, stored, medication):
    client = personas[persona]
    expected = {**READERS, **NO_ACCESS}[persona]
    routes = [
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        f"/api/v1/entity-files/files/{stored.pk}",
        f"/api/v1/entity-files/files/{stored.pk}/view",
        f"/api/v1/entity-files/files/{stored.pk}/download",
    ]
    for route in routes:
        response = client.get(route)
        assert response.status_code == expected, (route, response.status_code)


@pytest.mark.parametrize("persona", [*WRITERS, *NO_ACCESS])
def test_upload_by_persona(personas, persona, medication):
    expected = {**WRITERS, **NO_ACCESS}[persona]
    response = upload(personas[persona], "medication", medication.pk)
    assert response.status_code == expected
    assert EntityFile.objects.count() == (1 if expected == 200 else 0)


@pytest.mark.parametrize("persona", [*WRITERS, *NO_ACCESS])
def test_metadata_by_persona(personas, persona, stored):
    expected = {**WRITERS, **NO_ACCESS}[persona]
    response = personas[persona].put(
        f"/api/v1/entity-files/files/{stored.pk}/metadata",
        {"description": "Changed", "category": "imaging"},
        format="json",
    )
    assert response.status_code == expected
    stored.refresh_from_db()
    assert stored.description == ("Changed" if expected == 200 else "Scan")


@pytest.mark.parametrize("persona", [*WRITERS, *NO_ACCESS])
def test_delete_by_persona(personas, persona, stored):
    expected = {**WRITERS, **NO_ACCESS}[persona]
    response = personas[persona].delete(f"/api/v1/entity-files/files/{stored.pk}")
    assert response.status_code == expected
    stored.refresh_from_db()
    assert stored.in_trash == (expected == 200)


@pytest.mark.parametrize("persona", [*READERS, *NO_ACCESS])
def test_lab_result_alias_routes_by_persona(personas, persona, alice_api, shared_patient):
    lab = factory_for(LabResult)(patient=shared_patient)
    file_id = upload(alice_api, "lab-result", lab.pk).json()["id"]
    expected = {**READERS, **NO_ACCESS}[persona]
    client = personas[persona]
    for route in (
        f"/api/v1/lab-results/{lab.pk}/files",
        f"/api/v1/lab-results/{lab.pk}/files/{file_id}",
        f"/api/v1/lab-result-files/{file_id}",
        f"/api/v1/lab-result-files/{file_id}/view",
        f"/api/v1/lab-result-files/{file_id}/download",
    ):
        assert client.get(route).status_code == expected, route
    writes = {**WRITERS, **NO_ACCESS}
    response = client.post(
        f"/api/v1/lab-results/{lab.pk}/files",
        {"file": upload_of("lab.pdf", PDF)},
        format="multipart",
    )
    assert response.status_code == writes[persona]
    response = client.delete(f"/api/v1/lab-result-files/{file_id}")
    assert response.status_code == writes[persona]


@pytest.mark.parametrize("persona", [*READERS, *NO_ACCESS])
def test_batch_counts_by_persona(personas, persona, stored, medication):
    expected = {**READERS, **NO_ACCESS}[persona]
    response = personas[persona].post(
        "/api/v1/entity-files/files/batch-counts",
        [{"entity_type": "medication", "entity_id": medication.pk}],
        format="json",
    )
    if persona == "anonymous":
        assert response.status_code == 401
        return
    # Counts never reveal anything: a record the caller cannot see counts 0.
    assert response.status_code == 200
    assert response.json()[0]["file_count"] == (1 if expected == 200 else 0)


# --- behaviour -----------------------------------------------------------------------------


def test_upload_answer_and_listing(alice_api, medication):
    content = PDF
    response = upload(
        alice_api,
        "medication",
        medication.pk,
        name="Blood work.pdf",
        description=" Lab ",
        category="labs",
    )
    body = response.json()
    assert body["file_name"] == "Blood work.pdf"
    assert body["file_type"] == "application/pdf"
    assert body["file_size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["description"] == "Lab"
    assert body["category"] == "labs"
    assert body["storage_backend"] == "local"
    assert body["entity_type"] == "medication" and body["entity_id"] == medication.pk
    assert body["patient_id"] == medication.patient_id
    assert "Blood" not in body["file_path"]  # the storage key never carries the client's name
    listed = alice_api.get(f"/api/v1/entity-files/medication/{medication.pk}/files").json()
    assert [f["id"] for f in listed] == [body["id"]]


def test_every_type_in_the_table_takes_files(alice_api, patient):
    for name, record in record_of_each_type(patient).items():
        response = upload(alice_api, name, record.pk)
        assert response.status_code == 200, (name, response.content)
        listed = alice_api.get(f"/api/v1/entity-files/{name}/{record.pk}/files").json()
        assert len(listed) == 1


def test_visit_and_encounter_name_the_same_files(alice_api, patient):
    visit = factory_for(Encounter)(patient=patient)
    upload(alice_api, "encounter", visit.pk)
    upload(alice_api, "visit", visit.pk, content=png_bytes(), name="x.png")
    for name in ("visit", "encounter"):
        assert len(alice_api.get(f"/api/v1/entity-files/{name}/{visit.pk}/files").json()) == 2


def test_unknown_type_and_missing_record(alice_api, medication):
    response = alice_api.get("/api/v1/entity-files/spaceship/1/files")
    assert response.status_code == 404
    assert "Known types" in response.json()["detail"]
    assert alice_api.get("/api/v1/entity-files/medication/999999/files").status_code == 404
    assert upload(alice_api, "medication", 999999).status_code == 404


def test_upload_refusals(alice_api, medication, settings):
    cases = [
        ("page.pdf", b"<html><script>alert(1)</script></html>", 422),  # HTML named .pdf
        ("notes.txt", b"<!DOCTYPE html><html><body>hi</body></html>", 422),
        ("run.pdf", b"#!/bin/sh\nrm -rf /\n", 422),
        ("empty.pdf", b"", 422),
        ("photo.png", PDF, 422),  # a PDF is not an image
        ("tool.exe", b"MZ\x90\x00" + b"\x00" * 200, 422),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", 422),
    ]
    for name, content, expected in cases:
        response = upload(alice_api, "medication", medication.pk, name=name, content=content)
        assert response.status_code == expected, (name, response.content)
        assert response.json()["detail"]
    no_file = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files", {}, format="multipart"
    )
    assert no_file.status_code == 422
    remote = upload(alice_api, "medication", medication.pk, storage_backend="paperless")
    assert remote.status_code == 422
    assert "Paperless-ngx is not configured" in str(remote.json()["detail"])
    unknown = upload(alice_api, "medication", medication.pk, storage_backend="ftp")
    assert unknown.status_code == 422
    assert EntityFile.objects.count() == 0


def test_file_over_the_limit_is_413(alice_api, medication, settings):
    settings.FILES_MAX_UPLOAD_BYTES = 1000
    response = upload(alice_api, "medication", medication.pk, content=PDF + b"%" * 2000)
    assert response.status_code == 413
    assert EntityFile.objects.count() == 0
    assert list(__import__("files.storage").storage.all_names()) == []


def test_name_is_never_a_path_nor_markup(alice_api, medication):
    response = upload(alice_api, "medication", medication.pk, name='../../<b onload="x">.pdf')
    name = response.json()["file_name"]
    assert "/" not in name and "<" not in name and '"' not in name
    assert name.endswith(".pdf")


def test_accepted_kinds(alice_api, medication):
    accepted = [
        ("scan.png", png_bytes()),
        ("notes.txt", b"Blood pressure 120/80, pulse 64.\n"),
        ("values.csv", b"date,value\n2026-01-01,5.4\n"),
        ("report.pdf", PDF),
    ]
    for name, content in accepted:
        response = upload(alice_api, "medication", medication.pk, name=name, content=content)
        assert response.status_code == 200, (name, response.content)


def test_metadata_update_and_rename(alice_api, stored):
    url = f"/api/v1/entity-files/files/{stored.pk}/metadata"
    response = alice_api.put(url, {"file_name": "renamed.pdf", "category": None}, format="json")
    assert response.status_code == 200
    assert response.json()["file_name"] == "renamed.pdf"
    assert response.json()["category"] == ""
    assert alice_api.put(url, {"file_name": "renamed.html"}, format="json").status_code == 422
    assert alice_api.put(url, {}, format="json").status_code == 422
    assert alice_api.put(url, {"description": "x" * 1001}, format="json").status_code == 422


def test_delete_moves_to_trash_and_hides(alice_api, stored, medication):
    response = alice_api.delete(f"/api/v1/entity-files/files/{stored.pk}")
    assert response.status_code == 200
    assert response.json()["message"]
    assert alice_api.get(f"/api/v1/entity-files/files/{stored.pk}").status_code == 404
    listed = alice_api.get(f"/api/v1/entity-files/medication/{medication.pk}/files").json()
    assert listed == []
    assert alice_api.delete(f"/api/v1/entity-files/files/{stored.pk}").status_code == 404


def test_batch_counts_both_body_styles(alice_api, stored, medication, patient):
    other = factory_for(Medication)(patient=patient)
    spec = alice_api.post(
        "/api/v1/entity-files/files/batch-counts",
        [
            {"entity_type": "medication", "entity_id": medication.pk},
            {"entity_type": "medication", "entity_id": other.pk},
        ],
        format="json",
    ).json()
    assert [row["file_count"] for row in spec] == [1, 0]
    reference = alice_api.post(
        "/api/v1/entity-files/files/batch-counts",
        {"entity_type": "medication", "entity_ids": [medication.pk, other.pk]},
        format="json",
    ).json()
    assert [(row["entity_id"], row["file_count"]) for row in reference] == [
        (medication.pk, 1),
        (other.pk, 0),
    ]
    for bad in ({}, [{"entity_type": "spaceship", "entity_id": 1}], [{"entity_id": "x"}], "x"):
        response = alice_api.post("/api/v1/entity-files/files/batch-counts", bad, format="json")
        assert response.status_code in (400, 422), bad


def test_batch_counts_is_one_query_whatever_the_size(
    alice_api, patient, django_assert_max_num_queries
):
    meds = [factory_for(Medication)(patient=patient) for _ in range(20)]
    body = [{"entity_type": "medication", "entity_id": m.pk} for m in meds]
    alice_api.post("/api/v1/entity-files/files/batch-counts", body[:2], format="json")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        alice_api.post("/api/v1/entity-files/files/batch-counts", body[:2], format="json")
    with CaptureQueriesContext(connection) as large:
        alice_api.post("/api/v1/entity-files/files/batch-counts", body, format="json")
    assert len(large) == len(small)


def test_listing_does_not_grow_with_files(alice_api, medication):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = f"/api/v1/entity-files/medication/{medication.pk}/files"
    upload(alice_api, "medication", medication.pk)
    with CaptureQueriesContext(connection) as one:
        alice_api.get(url)
    for _ in range(5):
        upload(alice_api, "medication", medication.pk)
    with CaptureQueriesContext(connection) as six:
        assert len(alice_api.get(url).json()) == 6
    assert len(six) == len(one)


# --- the lab-result paths of older clients ----------------------------------------------


def test_lab_result_aliases(alice_api, bob, client_for, shared_patient, medication):
    lab = factory_for(LabResult)(patient=shared_patient)
    response = alice_api.post(
        f"/api/v1/lab-results/{lab.pk}/files",
        {"file": upload_of("lab.pdf", PDF)},
        format="multipart",
    )
    assert response.status_code == 200
    file_id = response.json()["id"]
    assert response.json()["entity_type"] == "lab-result"
    assert [f["id"] for f in alice_api.get(f"/api/v1/lab-results/{lab.pk}/files").json()] == [
        file_id
    ]
    assert alice_api.get(f"/api/v1/lab-result-files/{file_id}").json()["id"] == file_id
    assert alice_api.get(f"/api/v1/lab-result-files/{file_id}/download").status_code == 200
    # A medication's file is not a lab-result file.
    med_file = upload(alice_api, "medication", medication.pk).json()["id"]
    assert alice_api.get(f"/api/v1/lab-result-files/{med_file}").status_code == 404
    assert alice_api.delete(f"/api/v1/lab-results/{lab.pk}/files/{med_file}").status_code == 404
    assert (
        client_for(bob).delete(f"/api/v1/lab-results/{lab.pk}/files/{file_id}").status_code == 403
    )
    assert alice_api.delete(f"/api/v1/lab-results/{lab.pk}/files/{file_id}").status_code == 200
    assert alice_api.get(f"/api/v1/lab-results/{lab.pk}/files").json() == []


def test_uploads_count_against_the_upload_limit(alice_api, medication, settings):
    settings.API_RATES = {**settings.API_RATES, "upload": "2/hour"}
    assert upload(alice_api, "medication", medication.pk).status_code == 200
    assert upload(alice_api, "medication", medication.pk).status_code == 200
    refused = upload(alice_api, "medication", medication.pk)
    assert refused.status_code == 429
    assert refused["Retry-After"]
    # Reading is not an upload.
    url = f"/api/v1/entity-files/medication/{medication.pk}/files"
    assert alice_api.get(url).status_code == 200
    assert EntityFile.objects.count() == 2
