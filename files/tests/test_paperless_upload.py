"""Uploading to Paperless-ngx: the file lands in the (loopback) Paperless server, the task is
polled to SUCCESS or FAILURE, the local copy goes only once the document is confirmed, and the
file opens through our access-checked views, streamed from Paperless."""

from __future__ import annotations

import hashlib
import socket

import pytest

from files import storage
from files.backends import remote
from files.models import EntityFile, SyncStatus
from files.tests.helpers import PDF, factory_for, upload_of
from files.tests.paperless_server import TOKEN
from records.models import Medication

pytestmark = pytest.mark.django_db

SCAN = PDF + b"% scan of 2026-11-02\n"


@pytest.fixture
def medication(shared_patient):
    return factory_for(Medication)(patient=shared_patient)


def upload(client, medication, content=SCAN, name="blood-test.pdf", **form):
    return client.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of(name, content), "storage_backend": "paperless", **form},
        format="multipart",
    )


def test_upload_lands_in_paperless_and_opens_through_our_view(
    alice, alice_api, client_for, bob, medication, paperless_for, django_capture_on_commit_callbacks
):
    server = paperless_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(alice_api, medication, description="Blood test")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["storage_backend"] == "paperless"
    assert body["paperless_task_uuid"] in server.state.tasks
    # The task ran (eagerly): the document exists in Paperless, with our bytes and title.
    [document] = server.state.documents.values()
    assert document["_bytes"] == SCAN
    assert document["title"] == "Blood test"
    entity_file = EntityFile.objects.get(pk=body["id"])
    assert entity_file.paperless_document_id == str(document["id"])
    assert entity_file.remote_title == document["title"]
    assert entity_file.sync_status == SyncStatus.SYNCED
    assert remote.is_remote(entity_file)
    assert not any(name.startswith("medication/") for name in storage.all_names())

    # Opens through our view for the owner and for a VIEW share (no Paperless of his own).
    for client in (alice_api, client_for(bob)):
        view = client.get(f"/api/v1/entity-files/files/{entity_file.pk}/view")
        assert view.status_code == 200
        assert b"".join(view.streaming_content) == SCAN
        assert view["Content-Type"] == "application/pdf"
        assert view["Content-Disposition"].startswith("inline")
    download = alice_api.get(f"/api/v1/entity-files/files/{entity_file.pk}/download")
    assert b"".join(download.streaming_content) == SCAN
    assert download["Content-Disposition"] == 'attachment; filename="blood-test.pdf"'
    assert download["Accept-Ranges"] == "none"
    # The token went to Paperless in the header only; our answers never carry it.
    assert all(h.get("Authorization") == f"Token {TOKEN}" for _, _, h in server.state.requests)
    assert TOKEN not in response.content.decode()


def test_upload_refused_when_paperless_is_not_set_up(alice_api, medication):
    response = upload(alice_api, medication)
    assert response.status_code == 422
    assert response.json()["errors"]["storage_backend"]
    assert EntityFile.objects.count() == 0


def test_upload_refused_when_paperless_is_switched_off(alice, alice_api, medication, paperless_for):
    paperless_for(alice)
    alice.preference.paperless_enabled = False
    alice.preference.save()
    assert upload(alice_api, medication).status_code == 422


def test_task_polled_to_success_stores_the_document_id(
    alice, alice_api, medication, paperless_for, django_capture_on_commit_callbacks
):
    server = paperless_for(alice)
    server.state.polls_before_done = 2
    body = upload(alice_api, medication).json()  # on_commit not run: no background task
    entity_file = EntityFile.objects.get(pk=body["id"])
    assert entity_file.sync_status == SyncStatus.PROCESSING
    local_name = entity_file.stored_name
    url = f"/api/v1/paperless/tasks/{body['paperless_task_uuid']}/status"

    with django_capture_on_commit_callbacks(execute=True):
        seen = [alice_api.get(url).json() for _ in range(3)]
    assert [s["status"] for s in seen] == ["PENDING", "STARTED", "SUCCESS"]
    document_id = seen[-1]["document_id"]
    assert document_id == seen[-1]["related_document"] == seen[-1]["result"]["document_id"]
    entity_file.refresh_from_db()
    assert entity_file.paperless_document_id == str(document_id)
    assert entity_file.sync_status == SyncStatus.SYNCED
    assert not storage.exists(local_name)  # confirmed (MD5 matched), then dropped
    # Asked again: answered from our row.
    again = alice_api.get(url).json()
    assert again["status"] == "SUCCESS" and again["document_id"] == document_id


def test_task_failure_duplicate_keeps_the_local_copy(alice, alice_api, medication, paperless_for):
    server = paperless_for(alice)
    server.state.add_document(SCAN, title="Already there", file_name="old.pdf")
    body = upload(alice_api, medication).json()
    status = alice_api.get(f"/api/v1/paperless/tasks/{body['paperless_task_uuid']}/status")
    assert status.status_code == 200
    answer = status.json()
    assert answer["status"] == "FAILURE"
    assert answer["error_type"] == "duplicate"
    assert answer["document_id"] is None
    entity_file = EntityFile.objects.get(pk=body["id"])
    assert entity_file.sync_status == SyncStatus.FAILED
    assert remote.has_local_copy(entity_file)
    view = alice_api.get(f"/api/v1/entity-files/files/{entity_file.pk}/view")
    assert b"".join(view.streaming_content) == SCAN


def test_background_task_finishes_the_upload_without_the_browser(
    alice, alice_api, medication, paperless_for, django_capture_on_commit_callbacks
):
    server = paperless_for(alice)
    server.state.polls_before_done = 3  # the task polls (eagerly: retries at once)
    with django_capture_on_commit_callbacks(execute=True):
        body = upload(alice_api, medication).json()
    entity_file = EntityFile.objects.get(pk=body["id"])
    assert entity_file.sync_status == SyncStatus.SYNCED
    assert entity_file.paperless_document_id


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_paperless_never_loses_the_local_copy(
    alice, alice_api, medication, paperless_for, django_capture_on_commit_callbacks, settings
):
    from files.tests.paperless_server import configure_paperless

    configure_paperless(alice, f"http://127.0.0.1:{_closed_port()}")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(alice_api, medication)
    assert response.status_code == 200  # stored here; sending is retried in the background
    entity_file = EntityFile.objects.get(pk=response.json()["id"])
    # Eager retries ran out at once: marked failed, bytes still here and served.
    assert entity_file.sync_status == SyncStatus.FAILED
    assert entity_file.paperless_task_uuid is None
    assert storage.exists(entity_file.stored_name)
    view = alice_api.get(f"/api/v1/entity-files/files/{entity_file.pk}/view")
    assert hashlib.sha256(b"".join(view.streaming_content)).hexdigest() == entity_file.sha256


def test_checksum_mismatch_keeps_the_local_copy(alice, alice_api, medication, paperless_for):
    server = paperless_for(alice)
    body = upload(alice_api, medication).json()
    task = server.state.tasks[body["paperless_task_uuid"]]
    task["_bytes"] = b"%PDF-1.4 something else\n"  # Paperless stores other bytes
    alice_api.get(f"/api/v1/paperless/tasks/{body['paperless_task_uuid']}/status")
    entity_file = EntityFile.objects.get(pk=body["id"])
    assert entity_file.sync_status == SyncStatus.FAILED
    assert storage.exists(entity_file.stored_name)


def test_remote_view_of_a_document_deleted_in_paperless_is_404(
    alice, alice_api, medication, paperless_for, django_capture_on_commit_callbacks
):
    server = paperless_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        body = upload(alice_api, medication).json()
    server.state.documents.clear()
    response = alice_api.get(f"/api/v1/entity-files/files/{body['id']}/view")
    assert response.status_code == 404
    assert "Paperless-ngx" in response.json()["error"]


def test_sweeper_requeues_unfinished_uploads(
    alice, alice_api, medication, paperless_for, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from files.tasks import resume_remote_uploads

    paperless_for(alice)
    body = upload(alice_api, medication).json()  # sent, task never polled
    EntityFile.objects.filter(pk=body["id"]).update(updated_at=timezone.now() - timedelta(hours=1))
    assert resume_remote_uploads() == 1
    assert EntityFile.objects.get(pk=body["id"]).sync_status == SyncStatus.SYNCED
    assert resume_remote_uploads() == 0


def test_remote_view_when_paperless_is_down_or_slow(
    alice, alice_api, medication, paperless_for, django_capture_on_commit_callbacks, settings
):
    from files.tests.paperless_server import configure_paperless

    server = paperless_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        file_id = upload(alice_api, medication).json()["id"]
    settings.DOCUMENT_BACKEND_TIMEOUT = 0.3
    server.state.delay = 1.0
    slow = alice_api.get(f"/api/v1/entity-files/files/{file_id}/download")
    assert slow.status_code == 504
    assert slow.json()["status"] == "error"
    server.state.delay = 0
    configure_paperless(alice, f"http://127.0.0.1:{_closed_port()}")
    down = alice_api.get(f"/api/v1/entity-files/files/{file_id}/view")
    assert down.status_code == 502
    assert "connection was refused" in down.json()["error"]
    # The uploader switched Paperless off: a clear refusal, not a 500.
    alice.preference.paperless_enabled = False
    alice.preference.save()
    off = alice_api.get(f"/api/v1/entity-files/files/{file_id}/view")
    assert off.status_code == 400
    assert "settings of the person who added it" in off.json()["error"]


def test_status_poll_answers_success_even_if_confirming_must_wait(
    alice, alice_api, medication, paperless_for
):
    server = paperless_for(alice)
    body = upload(alice_api, medication).json()
    original = server.state.documents.copy()
    # Paperless finishes the task, then its metadata endpoint fails for a moment.
    real_consume = server.state._consume

    def consume_then_fail(task):
        real_consume(task)
        server.state.fail_with = 503

    server.state._consume = consume_then_fail
    answer = alice_api.get(f"/api/v1/paperless/tasks/{body['paperless_task_uuid']}/status")
    assert original == {}
    assert answer.status_code == 200
    assert answer.json()["status"] == "SUCCESS"
    entity_file = EntityFile.objects.get(pk=body["id"])
    assert entity_file.paperless_document_id  # kept; the local copy waits for confirmation
    assert remote.has_local_copy(entity_file)
    assert entity_file.sync_status == SyncStatus.PROCESSING
