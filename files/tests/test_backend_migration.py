"""Moving a user's local files to Paperless-ngx / Papra (POST /paperless/migrate): files land
on the loopback servers and still open through our views, a failure leaves files local and
counted, cancel stops between files, and POST /entity-files/processing/update."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models.signals import post_save
from django.utils import timezone

from files import storage
from files.backends import remote
from files.models import EntityFile, FileMigrationJob, StorageBackend, SyncStatus
from files.relocation import services
from files.tests.helpers import PDF, factory_for, upload_of
from files.tests.papra_server import API_KEY
from records.models import Medication

pytestmark = pytest.mark.django_db

MIGRATE = "/api/v1/paperless/migrate"


@pytest.fixture(autouse=True)
def _quick(settings):
    settings.FILE_MIGRATION_RETRY_SECONDS = 0
    settings.FILE_MIGRATION_RETRIES = 1


@pytest.fixture
def medication(shared_patient):
    return factory_for(Medication)(patient=shared_patient)


def contents(count: int) -> list[bytes]:
    return [PDF + f"% page {n} of the scan\n".encode() for n in range(count)]


@pytest.fixture
def local_files(alice_api, medication):
    """Three files alice uploaded to local storage, oldest first."""
    made = []
    for number, content in enumerate(contents(3)):
        response = alice_api.post(
            f"/api/v1/entity-files/medication/{medication.pk}/files",
            {"file": upload_of(f"scan-{number}.pdf", content)},
            format="multipart",
        )
        assert response.status_code == 200, response.content
        made.append(EntityFile.objects.get(pk=response.json()["id"]))
    return made


def opened(client, entity_file) -> bytes:
    response = client.get(f"/api/v1/entity-files/files/{entity_file.pk}/view")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def start(client, capture, **body):
    with capture(execute=True):
        response = client.post(MIGRATE, body, format="json")
    return response


@pytest.fixture
def when_job_saved():
    """when_job_saved(action): runs action(job) each time the job row is saved (the task saves
    it after each file), the way another request would act while the task works."""
    receivers = []

    def connect(action):
        def receiver(sender, instance, **kwargs):
            action(instance)

        post_save.connect(receiver, sender=FileMigrationJob, weak=False)
        receivers.append(receiver)

    yield connect
    for receiver in receivers:
        post_save.disconnect(receiver, sender=FileMigrationJob)


# --- Paperless-ngx -------------------------------------------------------------------------


def test_migration_moves_local_files_to_paperless(
    alice,
    alice_api,
    client_for,
    bob,
    local_files,
    paperless_for,
    django_capture_on_commit_callbacks,
):
    server = paperless_for(alice)
    local_names = [f.stored_name for f in local_files]
    response = start(alice_api, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response.json()["total_files"] == 3

    status = alice_api.get(f"{MIGRATE}/{job_id}").json()
    assert status["status"] == "done"
    assert (status["moved_files"], status["failed_files"], status["progress_percent"]) == (
        3,
        0,
        100,
    )
    assert status["partial"] is False and status["error"] is None
    assert alice_api.get(f"{MIGRATE}/{job_id}/status").json() == status

    stored = {d["_bytes"] for d in server.state.documents.values()}
    assert stored == set(contents(3))
    for entity_file, content in zip(local_files, contents(3), strict=True):
        entity_file.refresh_from_db()
        assert entity_file.storage_backend == StorageBackend.PAPERLESS
        assert entity_file.sync_status == SyncStatus.SYNCED
        assert remote.is_remote(entity_file)
        # The bytes still open through our access-checked views, for a VIEW share too.
        assert opened(alice_api, entity_file) == content
        assert opened(client_for(bob), entity_file) == content
    assert not set(local_names) & set(storage.all_names())


def test_a_refused_file_stays_local_and_is_counted(
    alice, alice_api, local_files, paperless_for, django_capture_on_commit_callbacks
):
    server = paperless_for(alice)
    # Paperless already holds the second file's content: its consumer refuses the duplicate.
    server.state.add_document(contents(3)[1], title="earlier scan", file_name="old.pdf")
    response = start(alice_api, django_capture_on_commit_callbacks)
    job = FileMigrationJob.objects.get(pk=response.json()["id"])
    assert job.status == "done"
    assert (job.moved_files, job.failed_files) == (2, 1)
    [failure] = job.failures
    assert failure["file_id"] == local_files[1].pk
    assert "duplicate" in failure["reason"]
    refused = EntityFile.objects.get(pk=local_files[1].pk)
    assert refused.storage_backend == StorageBackend.LOCAL
    assert refused.sync_status == SyncStatus.SYNCED
    assert refused.paperless_task_uuid is None
    assert storage.exists(refused.stored_name)
    assert opened(alice_api, refused) == contents(3)[1]
    body = alice_api.get(f"{MIGRATE}/{job.pk}").json()
    assert body["partial"] is True and body["failures"][0]["file_id"] == refused.pk


def test_a_file_whose_bytes_are_gone_is_counted_and_the_rest_move(
    alice, alice_api, local_files, paperless_for, django_capture_on_commit_callbacks
):
    paperless_for(alice)
    storage.delete(local_files[0].stored_name)
    response = start(alice_api, django_capture_on_commit_callbacks)
    job = FileMigrationJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.moved_files, job.failed_files) == ("done", 2, 1)
    assert job.failures[0]["file_id"] == local_files[0].pk
    assert EntityFile.objects.get(pk=local_files[0].pk).storage_backend == "local"


def test_server_failure_mid_migration_leaves_the_rest_local(
    alice,
    alice_api,
    local_files,
    paperless_for,
    django_capture_on_commit_callbacks,
    when_job_saved,
):
    server = paperless_for(alice)

    def break_server_after_first(job):
        if job.moved_files == 1:
            server.state.fail_with = 503

    when_job_saved(break_server_after_first)
    response = start(alice_api, django_capture_on_commit_callbacks)
    body = alice_api.get(f"{MIGRATE}/{response.json()['id']}").json()
    assert body["status"] == "failed"
    assert (body["moved_files"], body["failed_files"]) == (1, 1)
    assert "HTTP 503" in body["error"] and "stay in local storage" in body["error"]
    assert body["partial"] is True
    assert body["failures"][0]["file_id"] == local_files[1].pk
    for entity_file, content in zip(local_files[1:], contents(3)[1:], strict=True):
        entity_file.refresh_from_db()
        assert entity_file.storage_backend == StorageBackend.LOCAL
        assert entity_file.sync_status == SyncStatus.SYNCED
        assert storage.exists(entity_file.stored_name)
        assert opened(alice_api, entity_file) == content


def test_cancel_stops_between_files(
    alice, alice_api, local_files, paperless_for, django_capture_on_commit_callbacks, when_job_saved
):
    paperless_for(alice)

    def cancel_after_first(job):
        if job.moved_files == 1 and job.cancel_requested_at is None:
            services.cancel_migration(job=job)

    when_job_saved(cancel_after_first)
    response = start(alice_api, django_capture_on_commit_callbacks)
    body = alice_api.get(f"{MIGRATE}/{response.json()['id']}").json()
    assert body["status"] == "cancelled"
    assert body["moved_files"] == 1 and body["cancel_requested"] is True
    backends = [EntityFile.objects.get(pk=f.pk).storage_backend for f in local_files]
    assert backends == ["paperless", "local", "local"]


def test_cancel_endpoint_and_conflicts(alice, alice_api, local_files, paperless_for):
    paperless_for(alice)
    # Without running the queued task: the job stays pending.
    first = alice_api.post(MIGRATE, {}, format="json")
    assert first.status_code == 202
    job_id = first.json()["id"]
    assert first.json()["status"] == "pending"
    second = alice_api.post(MIGRATE, {"target_backend": "paperless"}, format="json")
    assert second.status_code == 409
    assert str(job_id) in second.json()["message"]

    cancelled = alice_api.post(f"{MIGRATE}/{job_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert alice_api.post(f"{MIGRATE}/{job_id}/cancel").status_code == 200  # again: same
    # The task arriving late does nothing.
    assert services.run_migration(job_id) == "cancelled"
    assert all(
        EntityFile.objects.get(pk=f.pk).storage_backend == StorageBackend.LOCAL for f in local_files
    )
    # Once it has ended a new one may start; a finished one cannot be cancelled.
    again = alice_api.post(MIGRATE, {}, format="json")
    assert again.status_code == 202
    assert services.run_migration(again.json()["id"]) == "done"
    assert alice_api.post(f"{MIGRATE}/{again.json()['id']}/cancel").status_code == 409


def test_a_dead_job_does_not_block_a_new_one(alice, alice_api, paperless_for):
    paperless_for(alice)
    stuck = FileMigrationJob.objects.create(
        user=alice, target_backend="paperless", status="running"
    )
    FileMigrationJob.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(hours=2)
    )
    response = alice_api.post(MIGRATE, {}, format="json")
    assert response.status_code == 202
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "stopped answering" in stuck.error


def test_a_file_still_processing_is_handed_to_the_upload_task(
    alice, local_files, paperless_for, settings
):
    settings.FILE_MIGRATION_PROCESSING_WAIT_SECONDS = 0
    server = paperless_for(alice)
    server.state.polls_before_done = 50
    job = services.start_migration(user=alice, target="paperless")
    assert services.run_migration(job.pk) == "done"
    job.refresh_from_db()
    assert (job.moved_files, job.deferred_files, job.failed_files) == (0, 3, 0)
    for entity_file in local_files:
        entity_file.refresh_from_db()
        assert entity_file.storage_backend == StorageBackend.PAPERLESS
        assert entity_file.sync_status == SyncStatus.PROCESSING
        assert storage.exists(entity_file.stored_name)  # kept until confirmed


def test_only_the_callers_own_local_files_move(
    alice, carol, alice_api, client_for, medication, local_files, paperless_for
):
    paperless_for(alice)
    theirs = client_for(carol).post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("carol.pdf", PDF + b"% carol\n")},
        format="multipart",
    )
    job = services.start_migration(user=alice, target="paperless")
    assert job.total_files == 3
    services.run_migration(job.pk)
    assert EntityFile.objects.get(pk=theirs.json()["id"]).storage_backend == "local"


# --- Papra ---------------------------------------------------------------------------------


def test_migration_to_papra(
    alice, alice_api, local_files, papra_server, django_capture_on_commit_callbacks
):
    saved = alice_api.put(
        "/api/v1/papra/settings",
        {
            "papra_enabled": True,
            "papra_url": papra_server.url,
            "papra_api_token": API_KEY,
            "papra_organization_id": papra_server.organization_id,
        },
        format="json",
    )
    assert saved.status_code == 200, saved.content
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post("/api/v1/papra/migrate", {}, format="json")
    assert response.status_code == 202
    job = FileMigrationJob.objects.get(pk=response.json()["id"])
    assert (job.target_backend, job.status, job.moved_files) == ("papra", "done", 3)
    assert {d.content for d in papra_server.documents.values()} == set(contents(3))
    for entity_file, content in zip(local_files, contents(3), strict=True):
        entity_file.refresh_from_db()
        assert entity_file.storage_backend == StorageBackend.PAPRA
        assert entity_file.papra_organization_id == papra_server.organization_id
        assert opened(alice_api, entity_file) == content


# --- refusals ------------------------------------------------------------------------------


def test_migration_refusals(anon, alice_api, client_for, mallory, paperless_for, alice):
    assert anon.post(MIGRATE, {}, format="json").status_code == 401
    assert anon.get(f"{MIGRATE}/1").status_code == 401
    assert anon.post(f"{MIGRATE}/1/cancel").status_code == 401
    not_set_up = alice_api.post(MIGRATE, {}, format="json")
    assert not_set_up.status_code == 400
    assert not_set_up.json()["status"] == "error"
    assert alice_api.post(MIGRATE, {"target_backend": "dropbox"}, format="json").status_code == 422
    paperless_for(alice)
    job_id = alice_api.post(MIGRATE, {}, format="json").json()["id"]
    stranger = client_for(mallory)
    assert stranger.get(f"{MIGRATE}/{job_id}").status_code == 404
    assert stranger.post(f"{MIGRATE}/{job_id}/cancel").status_code == 404
    assert alice_api.get(f"{MIGRATE}/999999").status_code == 404


# --- processing/update ---------------------------------------------------------------------


def test_processing_update_polls_unfinished_uploads_once(
    alice, alice_api, client_for, mallory, medication, paperless_for
):
    server = paperless_for(alice)
    server.state.polls_before_done = 1
    response = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("lab.pdf", PDF + b"% lab\n"), "storage_backend": "paperless"},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    file_id = str(response.json()["id"])  # sent; its task is left to this endpoint

    first = alice_api.post("/api/v1/entity-files/processing/update", {}, format="json")
    assert first.status_code == 200
    assert first.json() == {file_id: "processing"}
    second = alice_api.post("/api/v1/entity-files/processing/update", {}, format="json")
    assert second.json() == {file_id: "synced"}
    assert remote.is_remote(EntityFile.objects.get(pk=file_id))
    assert alice_api.post("/api/v1/entity-files/processing/update").json() == {}
    assert client_for(mallory).post("/api/v1/entity-files/processing/update").json() == {}


def test_processing_update_with_the_server_down_changes_nothing(
    alice, alice_api, medication, paperless_for
):
    server = paperless_for(alice)
    server.state.polls_before_done = 5
    response = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("lab.pdf", PDF + b"% lab 2\n"), "storage_backend": "paperless"},
        format="multipart",
    )
    file_id = response.json()["id"]
    server.state.fail_with = 502
    answer = alice_api.post("/api/v1/entity-files/processing/update", {}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {str(file_id): "processing"}
    assert storage.exists(EntityFile.objects.get(pk=file_id).stored_name)


def test_processing_update_needs_sign_in(anon):
    assert anon.post("/api/v1/entity-files/processing/update").status_code == 401
