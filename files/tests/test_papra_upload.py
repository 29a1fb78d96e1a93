"""Uploads with storage_backend=papra end in the loopback Papra server and open through our
access-checked views with the same bytes; Papra down or slow never loses the local copy."""

from __future__ import annotations

import hashlib

import pytest

from files import storage
from files.models import EntityFile
from files.tests.helpers import PDF, factory_for, upload_of
from files.tests.test_papra_api import closed_port_url, configure_papra
from records.models import Medication

pytest.importorskip("files.backends.remote")

pytestmark = pytest.mark.django_db


@pytest.fixture
def medication(shared_patient):
    return factory_for(Medication)(patient=shared_patient)


@pytest.fixture
def papra(papra_server, alice):
    configure_papra(alice, papra_server)
    return papra_server


def upload_to_papra(client, medication, content=PDF, name="Blood panel.pdf"):
    return client.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of(name, content), "storage_backend": "papra", "description": "Panel"},
        format="multipart",
    )


def test_an_upload_ends_in_papra_and_opens_through_our_view(
    alice_api, medication, papra, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_to_papra(alice_api, medication)
    assert response.status_code == 200, response.content
    assert response.json()["storage_backend"] == "papra"

    row = EntityFile.objects.get(pk=response.json()["id"])
    stored = papra.documents[row.papra_document_id]
    assert stored.content == PDF and stored.name == "Blood panel.pdf"
    assert stored.organization_id == papra.organization_id
    assert row.sync_status == "synced"
    assert row.stored_name.startswith("remote/papra/")
    assert not any(name.startswith("medication/") for name in storage.all_names())

    for route in ("view", "download"):
        opened = alice_api.get(f"/api/v1/entity-files/files/{row.pk}/{route}")
        assert opened.status_code == 200
        body = b"".join(opened.streaming_content)
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(PDF).hexdigest()
        assert opened["Content-Type"] == "application/pdf"
        assert papra.api_key not in str(opened.headers)


def test_an_upload_still_opens_after_the_uploader_picks_another_organization(
    alice, alice_api, medication, papra, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_to_papra(alice_api, medication)
    row = EntityFile.objects.get(pk=response.json()["id"])
    assert row.papra_organization_id == papra.organization_id

    configure_papra(alice, papra, organization_id=papra.organizations[1]["id"])
    opened = alice_api.get(f"/api/v1/entity-files/files/{row.pk}/download")
    assert opened.status_code == 200
    assert b"".join(opened.streaming_content) == PDF


@pytest.mark.parametrize(("persona", "expected"), [("bob", 200), ("mallory", 404)])
def test_others_open_it_by_their_access_with_the_uploaders_key(
    client_for,
    request,
    alice_api,
    medication,
    papra,
    persona,
    expected,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        file_id = upload_to_papra(alice_api, medication).json()["id"]
    response = client_for(request.getfixturevalue(persona)).get(
        f"/api/v1/entity-files/files/{file_id}/download"
    )
    assert response.status_code == expected
    if expected == 200:
        assert b"".join(response.streaming_content) == PDF


def test_a_view_share_cannot_upload_to_papra(client_for, bob, medication, papra_server):
    configure_papra(bob, papra_server)
    response = upload_to_papra(client_for(bob), medication)
    assert response.status_code == 403
    assert papra_server.documents == {}


def test_upload_to_papra_without_settings_is_422(alice_api, medication):
    response = upload_to_papra(alice_api, medication)
    assert response.status_code == 422
    assert "storage_backend" in response.json()["errors"]
    assert EntityFile.objects.count() == 0


def test_papra_down_keeps_the_local_copy(
    alice_api, alice, medication, papra, django_capture_on_commit_callbacks
):
    configure_papra(alice, papra, url=closed_port_url())
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_to_papra(alice_api, medication)
    assert response.status_code == 200
    row = EntityFile.objects.get()
    assert row.papra_document_id is None
    assert row.sync_status in {"pending", "processing", "failed"}
    assert storage.exists(row.stored_name)
    opened = alice_api.get(f"/api/v1/entity-files/files/{row.pk}/download")
    assert opened.status_code == 200
    assert b"".join(opened.streaming_content) == PDF


def test_opening_when_papra_is_slow_is_504_and_down_is_502(
    alice_api, alice, medication, papra, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        file_id = upload_to_papra(alice_api, medication).json()["id"]
    settings.DOCUMENT_BACKEND_TIMEOUT = 0.5
    papra.delay = 2
    assert alice_api.get(f"/api/v1/entity-files/files/{file_id}/view").status_code == 504
    papra.delay = 0
    configure_papra(alice, papra, url=closed_port_url())
    response = alice_api.get(f"/api/v1/entity-files/files/{file_id}/view")
    assert response.status_code == 502
    assert papra.api_key not in response.content.decode()
