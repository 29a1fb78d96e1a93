"""The Paperless-ngx endpoints: search, link, sync, cleanup, task status, the background-task
bookkeeping and the contract's /paperless/upload, /sync and /documents, against the loopback
Paperless server, with every refusal."""

from __future__ import annotations

import logging

import pytest

from files import storage
from files.backends import remote
from files.models import EntityFile, StorageBackend, SyncStatus
from files.tests.helpers import PDF, factory_for, upload_of
from files.tests.paperless_server import TOKEN, configure_paperless
from records.models import Medication

pytestmark = pytest.mark.django_db

REPORT = PDF + b"% lab report\n"


@pytest.fixture
def medication(shared_patient):
    return factory_for(Medication)(patient=shared_patient)


@pytest.fixture
def server(alice, paperless_for):
    server = paperless_for(alice)
    server.state.add_document(
        REPORT,
        title="Lipid panel",
        file_name="lipids.pdf",
        correspondent=1,
        document_type=1,
        tags=[1, 2],
        text="cholesterol",
    )
    server.state.add_document(
        b"\x89PNG scan", title="X-ray", file_name="xray.png", mime="image/png"
    )
    return server


def link(client, medication, document_id="1", **body):
    return client.post(
        f"/api/v1/entity-files/medication/{medication.pk}/link-paperless",
        {"paperless_document_id": document_id, "description": "From Paperless", **body},
        format="json",
    )


# --- search --------------------------------------------------------------------------------


def test_search_answers_documents_with_names(alice_api, server):
    response = alice_api.get("/api/v1/paperless/documents/search", {"query": "cholesterol"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    [found] = body["results"]
    assert found == {
        "id": 1,
        "title": "Lipid panel",
        "created": "2026-11-02T09:30:00+00:00",
        "original_file_name": "lipids.pdf",
        "correspondent": 1,
        "correspondent_name": "City Lab",
        "document_type": 1,
        "document_type_name": "Lab report",
        "tags": [1, 2],
        "tag_names": ["medical", "lab-results"],
    }


def test_search_pages_and_the_contract_alias(alice_api, server):
    first = alice_api.get("/api/v1/paperless/documents", {"page": 1, "page_size": 1}).json()
    second = alice_api.get("/api/v1/paperless/documents", {"page": 2, "page_size": 1}).json()
    assert first["count"] == second["count"] == 2
    assert {first["results"][0]["id"], second["results"][0]["id"]} == {1, 2}


def test_search_excludes_linked_documents(alice_api, server, medication):
    assert link(alice_api, medication, "1").status_code == 200
    body = alice_api.get("/api/v1/paperless/documents/search", {"exclude_linked": "true"}).json()
    assert [d["id"] for d in body["results"]] == [2]
    assert body["count"] == 1


@pytest.mark.parametrize(
    "params", [{"page": 0}, {"page_size": 0}, {"page_size": 101}, {"page": "x"}]
)
def test_search_bad_input_is_422(alice_api, server, params):
    response = alice_api.get("/api/v1/paperless/documents/search", params)
    assert response.status_code == 422
    assert response.json()["status"] == "error"


def test_search_refusals(anon, client_for, mallory, server):
    assert anon.get("/api/v1/paperless/documents/search").status_code == 401
    # Someone without Paperless settings: a clear 400, not a call anywhere.
    response = client_for(mallory).get("/api/v1/paperless/documents/search")
    assert response.status_code == 400
    assert "Paperless-ngx is not configured" in response.json()["error"]


def test_wrong_token_is_502_not_401(alice, alice_api, server):
    configure_paperless(alice, server.url, token="wrong")
    response = alice_api.get("/api/v1/paperless/documents/search")
    assert response.status_code == 502
    assert "refused the saved token" in response.json()["error"]


def test_basic_auth_credentials_work(alice, alice_api, server):
    from files.tests.paperless_server import PASSWORD, USERNAME

    configure_paperless(alice, server.url, token="", username=USERNAME, password=PASSWORD)
    assert alice_api.get("/api/v1/paperless/documents/search").json()["count"] == 2


def test_closed_port_is_502_with_the_reason(alice, alice_api, db):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure_paperless(alice, f"http://127.0.0.1:{port}")
    response = alice_api.get("/api/v1/paperless/documents/search")
    assert response.status_code == 502
    assert response.json()["error"] == "Paperless-ngx is unreachable: the connection was refused."


def test_slow_server_is_504(alice_api, server, settings):
    settings.DOCUMENT_BACKEND_TIMEOUT = 0.3
    server.state.delay = 1.0
    response = alice_api.get("/api/v1/paperless/documents/search")
    assert response.status_code == 504
    assert "did not answer within 0.3 seconds" in response.json()["error"]


def test_server_error_answer_is_502(alice_api, server):
    server.state.fail_with = 500
    response = alice_api.get("/api/v1/paperless/documents/search")
    assert response.status_code == 502
    assert "HTTP 500" in response.json()["error"]


def test_token_never_in_answers_or_logs(alice_api, server, medication, caplog, settings):
    caplog.set_level(logging.DEBUG)
    answers = [
        alice_api.get("/api/v1/paperless/documents/search"),
        link(alice_api, medication, "1"),
        alice_api.post("/api/v1/entity-files/sync/paperless", {}, format="json"),
    ]
    settings.DOCUMENT_BACKEND_TIMEOUT = 0.2
    server.state.delay = 0.5
    answers.append(alice_api.get("/api/v1/paperless/documents/search"))
    server.state.delay = 0
    server.state.fail_with = 401
    answers.append(alice_api.get("/api/v1/paperless/documents/search"))
    assert [a.status_code for a in answers] == [200, 200, 200, 504, 502]
    for answer in answers:
        assert TOKEN not in answer.content.decode()
    assert TOKEN not in caplog.text
    assert any(r.name == "medikeep.files.backends" for r in caplog.records)


# --- link ------------------------------------------------------------------------------------


def test_link_creates_a_row_read_from_paperless_and_opens(
    alice_api, client_for, bob, server, medication
):
    response = link(alice_api, medication, "1")
    assert response.status_code == 200
    body = response.json()
    assert body["storage_backend"] == "paperless"
    assert body["paperless_document_id"] == "1"
    assert body["file_name"] == "lipids.pdf"
    assert body["file_type"] == "application/pdf"
    assert body["file_size"] == len(REPORT)
    assert body["sync_status"] == "synced"
    assert body["description"] == "From Paperless"
    listed = alice_api.get(f"/api/v1/entity-files/medication/{medication.pk}/files").json()
    assert [f["id"] for f in listed] == [body["id"]]
    view = client_for(bob).get(f"/api/v1/entity-files/files/{body['id']}/view")
    assert view.status_code == 200
    assert b"".join(view.streaming_content) == REPORT
    head = alice_api.head(f"/api/v1/entity-files/files/{body['id']}/download")
    assert head.status_code == 200 and head["Content-Length"] == str(len(REPORT))


@pytest.mark.parametrize(
    ("persona", "expected"), [("bob", 403), ("mallory", 404), ("carol", 200), ("dave", 200)]
)
def test_link_by_persona(request, client_for, persona, expected, server, medication, paperless_for):
    user = request.getfixturevalue(persona)
    paperless_for(user)
    assert link(client_for(user), medication, "1").status_code == expected
    assert EntityFile.objects.count() == (1 if expected == 200 else 0)


@pytest.mark.parametrize("document_id", ["abc", "0", "-1", "", "1.5"])
def test_link_bad_document_id_is_422(alice_api, server, medication, document_id):
    response = link(alice_api, medication, document_id)
    assert response.status_code == 422
    assert "paperless_document_id" in response.json()["errors"]


def test_link_refusals(anon, alice_api, server, medication):
    assert link(anon, medication, "1").status_code == 401
    missing = link(alice_api, medication, "99")
    assert missing.status_code == 404
    assert "Paperless-ngx" in missing.json()["error"]
    assert link(alice_api, medication, "1").status_code == 200
    assert link(alice_api, medication, "1").status_code == 409
    unknown = alice_api.post(
        "/api/v1/entity-files/medication/999999/link-paperless",
        {"paperless_document_id": "1"},
        format="json",
    )
    assert unknown.status_code == 404


# --- sync and cleanup ---------------------------------------------------------------------


def test_sync_marks_deleted_documents_missing_and_keeps_the_row(alice_api, server, medication):
    kept = link(alice_api, medication, "1").json()["id"]
    gone = link(alice_api, medication, "2").json()["id"]
    del server.state.documents[2]
    response = alice_api.post("/api/v1/entity-files/sync/paperless", {}, format="json")
    assert response.status_code == 200
    assert response.json() == {str(kept): True, str(gone): False}
    assert EntityFile.objects.get(pk=gone).sync_status == SyncStatus.MISSING
    assert EntityFile.objects.get(pk=kept).sync_status == SyncStatus.SYNCED
    # The contract's path answers the same; a document back in Paperless is synced again.
    server.state.add_document(b"again", title="again", file_name="again.pdf")
    server.state.documents[2] = server.state.documents.pop(3)
    assert alice_api.post("/api/v1/paperless/sync").json() == {str(kept): True, str(gone): True}
    assert EntityFile.objects.get(pk=gone).sync_status == SyncStatus.SYNCED


def test_sync_follows_a_title_changed_in_paperless(alice_api, server, medication):
    linked = link(alice_api, medication, "1").json()
    before = server.state.documents[1]["title"]
    assert linked["remote_title"] == before
    assert linked["file_name"] == server.state.documents[1]["original_file_name"]
    server.state.documents[1]["title"] = "Lipid panel, March (renamed)"
    assert alice_api.post("/api/v1/paperless/sync").json() == {str(linked["id"]): True}
    listing = alice_api.get(f"/api/v1/entity-files/medication/{medication.pk}/files").json()
    (answer,) = [f for f in listing if f["id"] == linked["id"]]
    assert answer["remote_title"] == "Lipid panel, March (renamed)"
    # The name the file came with stays: it is what a download is offered as.
    assert answer["file_name"] == linked["file_name"]
    # Unchanged titles write nothing: a second sync leaves updated_at alone.
    stamp = EntityFile.objects.get(pk=linked["id"]).updated_at
    alice_api.post("/api/v1/paperless/sync")
    assert EntityFile.objects.get(pk=linked["id"]).updated_at == stamp


def test_sync_without_paperless_files_needs_no_settings(client_for, mallory, anon):
    assert client_for(mallory).post("/api/v1/entity-files/sync/paperless").json() == {}
    assert anon.post("/api/v1/entity-files/sync/paperless").status_code == 401


def test_sync_when_paperless_fails_marks_nothing(alice_api, server, medication):
    file_id = link(alice_api, medication, "1").json()["id"]
    server.state.fail_with = 503
    assert alice_api.post("/api/v1/entity-files/sync/paperless").status_code == 502
    assert EntityFile.objects.get(pk=file_id).sync_status == SyncStatus.SYNCED


def test_sync_covers_only_the_callers_files(
    alice_api, client_for, carol, server, medication, paperless_for
):
    link(alice_api, medication, "1")
    paperless_for(carol)
    assert client_for(carol).post("/api/v1/entity-files/sync/paperless").json() == {}
    assert alice_api.post("/api/v1/entity-files/sync/paperless").status_code == 200


def test_cleanup_resets_failed_uploads_and_trashes_missing_links(
    alice_api, anon, server, medication
):
    missing_id = link(alice_api, medication, "2").json()["id"]
    del server.state.documents[2]
    alice_api.post("/api/v1/entity-files/sync/paperless")
    # An upload Paperless refused (a duplicate): still here, opens from our storage.
    failed = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("copy.pdf", REPORT), "storage_backend": "paperless"},
        format="multipart",
    ).json()
    alice_api.get(f"/api/v1/paperless/tasks/{failed['paperless_task_uuid']}/status")
    assert EntityFile.objects.get(pk=failed["id"]).sync_status == SyncStatus.FAILED

    assert anon.post("/api/v1/paperless/cleanup").status_code == 401
    response = alice_api.post("/api/v1/paperless/cleanup")
    assert response.status_code == 200
    assert response.json() == {"files_cleaned": 1, "files_deleted": 1}
    reset = EntityFile.objects.get(pk=failed["id"])
    assert (reset.storage_backend, reset.sync_status) == (StorageBackend.LOCAL, SyncStatus.SYNCED)
    assert storage.exists(reset.stored_name)
    assert EntityFile.objects.get(pk=missing_id).in_trash
    assert alice_api.post("/api/v1/paperless/cleanup").json() == {
        "files_cleaned": 0,
        "files_deleted": 0,
    }


# --- task status and the background-task bookkeeping --------------------------------------------


@pytest.fixture
def sent(alice_api, server, medication):
    """An upload whose Paperless task nobody polled yet."""
    response = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("new.pdf", PDF + b"% new\n"), "storage_backend": "paperless"},
        format="multipart",
    )
    assert response.status_code == 200
    return response.json()


def test_task_status_refusals(anon, client_for, carol, alice_api, sent, paperless_for):
    url = f"/api/v1/paperless/tasks/{sent['paperless_task_uuid']}/status"
    assert anon.get(url).status_code == 401
    paperless_for(carol)
    # Another user's task (even on a record they may edit) is not theirs to ask about.
    assert client_for(carol).get(url).status_code == 404
    assert alice_api.get("/api/v1/paperless/tasks/not-a-task/status").status_code == 404


def bookkeeping(client, path, medication, sent, **changes):
    body = {
        "entity_type": "medication",
        "entity_id": medication.pk,
        "file_name": "new.pdf",
        "task_uuid": sent["paperless_task_uuid"],
        "sync_status": "processing",
        **changes,
    }
    return client.post(f"/api/v1/paperless/entity-files/{path}", body, format="json")


def test_set_and_update_background_task(
    alice_api, medication, sent, django_capture_on_commit_callbacks
):
    response = bookkeeping(alice_api, "set-background-task", medication, sent)
    assert response.status_code == 200
    assert response.json()["sync_status"] == "processing"
    with django_capture_on_commit_callbacks(execute=True):
        response = bookkeeping(
            alice_api,
            "update-background-task",
            medication,
            sent,
            sync_status="synced",
            task_result={"status": "SUCCESS", "related_document": "999"},
        )
    assert response.status_code == 200
    entity_file = EntityFile.objects.get(pk=sent["id"])
    # Checked with Paperless by our own task, not taken from the client's claim (999).
    assert entity_file.sync_status == SyncStatus.SYNCED
    assert entity_file.paperless_document_id != "999"
    assert remote.is_remote(entity_file)


@pytest.mark.parametrize(
    "changes",
    [
        {"entity_id": "x"},
        {"sync_status": "bogus"},
        {"task_uuid": ""},
        {"entity_type": ""},
    ],
)
def test_background_task_bad_input_is_422(alice_api, medication, sent, changes):
    response = bookkeeping(alice_api, "set-background-task", medication, sent, **changes)
    assert response.status_code == 422


def test_background_task_refusals(anon, client_for, bob, mallory, alice_api, medication, sent):
    assert bookkeeping(anon, "set-background-task", medication, sent).status_code == 401
    assert bookkeeping(client_for(bob), "set-background-task", medication, sent).status_code == 403
    assert (
        bookkeeping(client_for(mallory), "update-background-task", medication, sent).status_code
        == 404
    )
    other = bookkeeping(
        alice_api, "set-background-task", medication, sent, file_name="x.pdf", task_uuid="other"
    )
    assert other.status_code == 404
    unknown_type = bookkeeping(
        alice_api, "set-background-task", medication, sent, entity_type="nope"
    )
    assert unknown_type.status_code == 404


# --- the contract's /paperless/upload ------------------------------------------------------


def test_contract_upload_sends_a_local_file(
    alice_api, server, medication, django_capture_on_commit_callbacks
):
    local = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("local.pdf", PDF + b"% local\n")},
        format="multipart",
    ).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/paperless/upload",
            {
                "document_id": local["id"],
                "tags": ["Medical", "cardiology", "medical"],
                "correspondent": "Heart Clinic",
            },
            format="json",
        )
    assert response.status_code == 200
    assert response.json()["paperless_task_uuid"]
    entity_file = EntityFile.objects.get(pk=local["id"])
    assert entity_file.storage_backend == StorageBackend.PAPERLESS
    assert entity_file.sync_status == SyncStatus.SYNCED
    document = server.state.documents[int(entity_file.paperless_document_id)]
    assert document["_bytes"] == PDF + b"% local\n"
    # Names become Paperless ids: an existing tag matched in any case, missing ones made.
    state = server.state
    assert sorted(state.tags[t] for t in document["tags"]) == ["cardiology", "medical"]
    assert state.correspondents[document["correspondent"]] == "Heart Clinic"
    assert len(state.tags) == 3 and len(state.correspondents) == 2
    # Once in Paperless it cannot be sent again.
    again = alice_api.post("/api/v1/paperless/upload", {"document_id": local["id"]}, format="json")
    assert again.status_code == 409


def test_contract_upload_labels_survive_a_send_that_fails_first(
    alice_api, server, medication, django_capture_on_commit_callbacks
):
    local = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("later.pdf", PDF + b"% later\n")},
        format="multipart",
    ).json()
    server.state.fail_with = 503  # the first send (in the request) fails; the row keeps labels
    response = alice_api.post(
        "/api/v1/paperless/upload",
        {"document_id": local["id"], "tags": ["lab-results"], "correspondent": "City Lab"},
        format="json",
    )
    assert response.status_code == 200
    assert EntityFile.objects.get(pk=local["id"]).remote_labels == {
        "tags": ["lab-results"],
        "correspondent": "City Lab",
    }
    server.state.fail_with = None
    assert remote.advance(local["id"]) in (remote.DONE, remote.WAIT)
    while remote.advance(local["id"]) == remote.WAIT:
        pass
    entity_file = EntityFile.objects.get(pk=local["id"])
    document = server.state.documents[int(entity_file.paperless_document_id)]
    assert document["tags"] == [2] and document["correspondent"] == 1


def test_contract_upload_refusals(anon, client_for, bob, mallory, alice_api, server, medication):
    local = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of("local.pdf", PDF)},
        format="multipart",
    ).json()
    body = {"document_id": local["id"]}
    assert anon.post("/api/v1/paperless/upload", body, format="json").status_code == 401
    assert client_for(bob).post("/api/v1/paperless/upload", body, format="json").status_code == 403
    assert (
        client_for(mallory).post("/api/v1/paperless/upload", body, format="json").status_code == 404
    )
    bad = alice_api.post("/api/v1/paperless/upload", {"document_id": "x"}, format="json")
    assert bad.status_code == 422
    assert EntityFile.objects.get(pk=local["id"]).storage_backend == StorageBackend.LOCAL


@pytest.mark.parametrize("links", [2, 12])
def test_sync_query_count_does_not_grow(
    alice_api, server, medication, links, django_assert_max_num_queries
):
    for _ in range(links):  # the same document, linked and re-pointed (no 409)
        assert link(alice_api, medication, "1").status_code == 200
        EntityFile.objects.filter(paperless_document_id="1").update(paperless_document_id="2")
    # Auth (user, preference) + the list + three updates, for 2 files as for 12.
    with django_assert_max_num_queries(8):
        response = alice_api.post("/api/v1/entity-files/sync/paperless")
    assert len(response.json()) == links
