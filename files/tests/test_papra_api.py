"""The Papra endpoints (organizations, document search, link, sync) against the loopback Papra
server: success, refusals by persona, bad input, and an unreachable or slow server."""

from __future__ import annotations

import logging
import socket

import pytest

from files.models import EntityFile
from files.tests.helpers import PDF, factory_for
from medikeep.accounts.models import UserPreference
from medikeep.crypto import encrypt_json
from records.models import Medication

pytestmark = pytest.mark.django_db


def configure_papra(user, server, *, organization_id="default", enabled=True, url=None):
    preference, _ = UserPreference.objects.get_or_create(user=user)
    preference.papra_enabled = enabled
    preference.papra_url = url or server.url
    preference.papra_secrets = encrypt_json({"api_token": server.api_key})
    preference.papra_organization_id = (
        server.organization_id if organization_id == "default" else organization_id
    )
    preference.save()
    return preference


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def medication(shared_patient):
    return factory_for(Medication)(patient=shared_patient)


@pytest.fixture
def papra(papra_server, alice, bob, carol, mallory):
    for user in (alice, bob, carol, mallory):
        configure_papra(user, papra_server)
    return papra_server


def assert_no_token(response, server):
    assert server.api_key not in response.content.decode()


# --- organizations ------------------------------------------------------------------------


def test_organizations_lists_id_and_name(alice_api, papra):
    response = alice_api.get("/api/v1/papra/organizations")
    assert response.status_code == 200
    assert response.json() == [{"id": o["id"], "name": o["name"]} for o in papra.organizations]
    assert_no_token(response, papra)


def test_organizations_need_a_signed_in_user(anon, papra):
    assert anon.get("/api/v1/papra/organizations").status_code == 401


def test_organizations_without_papra_settings_is_a_clear_400(alice_api):
    response = alice_api.get("/api/v1/papra/organizations")
    assert response.status_code == 400
    assert "Papra" in response.json()["error"]


def test_organizations_with_a_refused_key_is_502_not_401(alice_api, alice, papra):
    papra.api_key = "ppapi_" + "n" * 64  # the key was revoked in Papra
    response = alice_api.get("/api/v1/papra/organizations")
    assert response.status_code == 502
    assert "refused" in response.json()["error"]
    assert_no_token(response, papra)


def test_a_closed_port_is_502_with_the_reason(alice_api, alice, papra):
    configure_papra(alice, papra, url=closed_port_url())
    response = alice_api.get("/api/v1/papra/organizations")
    assert response.status_code == 502
    assert "refused" in response.json()["error"]


def test_a_slow_server_is_504(alice_api, papra, settings):
    settings.DOCUMENT_BACKEND_TIMEOUT = 0.5
    papra.delay = 2
    response = alice_api.get("/api/v1/papra/documents/search")
    assert response.status_code == 504
    assert "did not answer" in response.json()["error"]


# --- search -------------------------------------------------------------------------------


def test_search_answers_results_and_count(alice_api, papra):
    for n in range(3):
        papra.add_document(f"Lab report {n}.pdf", PDF + bytes([n]))
    papra.add_document("holiday.jpg", b"jpg", mime_type="image/jpeg")
    response = alice_api.get(
        "/api/v1/papra/documents/search", {"query": "lab", "page": 1, "page_size": 2}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [r["name"] for r in body["results"]] == ["Lab report 2.pdf"]
    first = body["results"][0]
    assert first["id"].startswith("doc_") and first["mime"] == "application/pdf"
    assert first["created"]
    sent = papra.requests[-1]
    assert "pageIndex=1" in sent["query"] and "pageSize=2" in sent["query"]


def test_search_without_a_query_lists_everything(alice_api, papra):
    papra.add_document("a.pdf", PDF)
    response = alice_api.get("/api/v1/papra/documents/search")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize(
    "params",
    [{"page": -1}, {"page": "two"}, {"page_size": 0}, {"page_size": 101}, {"query": "x" * 1025}],
)
def test_search_refuses_bad_paging(alice_api, papra, params):
    response = alice_api.get("/api/v1/papra/documents/search", params)
    assert response.status_code == 422
    assert response.json()["status"] == "error"


def test_search_and_link_need_papra_switched_on(alice_api, alice, medication, papra):
    configure_papra(alice, papra, enabled=False)
    document = papra.add_document("x.pdf", PDF)
    response = alice_api.get("/api/v1/papra/documents/search")
    assert response.status_code == 400
    assert "not configured or not enabled" in response.json()["error"]
    assert link(alice_api, medication, document.id).status_code == 400
    # the organizations stay listed, for the settings screen that switches Papra on
    assert alice_api.get("/api/v1/papra/organizations").status_code == 200


def test_search_needs_a_signed_in_user(anon, papra):
    assert anon.get("/api/v1/papra/documents/search").status_code == 401


# --- link ---------------------------------------------------------------------------------


def link(client, medication, document_id, **extra):
    return client.post(
        f"/api/v1/entity-files/medication/{medication.pk}/link-papra",
        {"papra_document_id": document_id, "description": " From Papra ", **extra},
        format="json",
    )


def test_link_creates_a_file_pointing_at_the_document(alice_api, alice, medication, papra):
    document = papra.add_document("Discharge letter.pdf", PDF)
    response = link(alice_api, medication, document.id)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["storage_backend"] == "papra"
    assert body["papra_document_id"] == document.id
    assert body["papra_organization_id"] == papra.organization_id
    assert body["file_name"] == "Discharge letter.pdf"
    assert body["file_type"] == "application/pdf"
    assert body["file_size"] == len(PDF)
    assert body["description"] == "From Papra"
    assert body["sync_status"] == "synced"
    row = EntityFile.objects.get(pk=body["id"])
    assert row.uploaded_by == alice and row.patient_id == medication.patient_id
    assert_no_token(response, papra)


def test_a_linked_file_opens_through_our_view_with_equal_bytes(alice_api, medication, papra):
    pytest.importorskip("files.backends.remote")
    document = papra.add_document("scan.pdf", PDF)
    file_id = link(alice_api, medication, document.id).json()["id"]
    response = alice_api.get(f"/api/v1/entity-files/files/{file_id}/download")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("alice", 200), ("carol", 200), ("bob", 403), ("mallory", 404)],
)
def test_link_needs_edit_on_the_record(client_for, request, medication, papra, persona, expected):
    document = papra.add_document("x.pdf", PDF)
    response = link(client_for(request.getfixturevalue(persona)), medication, document.id)
    assert response.status_code == expected
    assert EntityFile.objects.count() == (1 if expected == 200 else 0)


def test_link_anonymous_is_401(anon, medication, papra):
    document = papra.add_document("x.pdf", PDF)
    assert link(anon, medication, document.id).status_code == 401


def test_link_of_an_unknown_record_is_404(alice_api, papra):
    response = alice_api.post(
        "/api/v1/entity-files/medication/999999/link-papra",
        {"papra_document_id": "doc_" + "a" * 24},
        format="json",
    )
    assert response.status_code == 404


@pytest.mark.parametrize("bad", ["", "42", "doc_short", "../../api/organizations", None])
def test_link_refuses_what_is_not_a_papra_id(alice_api, medication, papra, bad):
    response = link(alice_api, medication, bad)
    assert response.status_code == 422
    assert "papra_document_id" in response.json()["errors"]
    assert papra.requests == []  # nothing was sent to Papra


def test_link_of_a_document_gone_from_papra_is_404(alice_api, medication, papra):
    trashed = papra.add_document("old.pdf", PDF)
    papra.trash(trashed.id)
    assert link(alice_api, medication, trashed.id).status_code == 404
    assert link(alice_api, medication, "doc_" + "q" * 24).status_code == 404
    assert EntityFile.objects.count() == 0


def test_linking_the_same_document_twice_to_a_record_is_409(alice_api, medication, papra):
    document = papra.add_document("x.pdf", PDF)
    assert link(alice_api, medication, document.id).status_code == 200
    assert link(alice_api, medication, document.id).status_code == 409


def test_link_when_papra_is_down_is_502_and_creates_nothing(alice_api, alice, medication, papra):
    configure_papra(alice, papra, url=closed_port_url())
    response = link(alice_api, medication, "doc_" + "a" * 24)
    assert response.status_code == 502
    assert EntityFile.objects.count() == 0


# --- sync ---------------------------------------------------------------------------------


def test_sync_marks_documents_deleted_in_papra_missing(alice_api, medication, papra):
    kept, trashed, removed = (papra.add_document(f"{n}.pdf", PDF + n.encode()) for n in "abc")
    ids = {d.id: link(alice_api, medication, d.id).json()["id"] for d in (kept, trashed, removed)}
    papra.trash(trashed.id)
    papra.remove(removed.id)
    papra.documents[kept.id].name = "renamed in Papra.pdf"

    response = alice_api.post("/api/v1/entity-files/sync/papra", {}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        str(ids[kept.id]): True,
        str(ids[trashed.id]): False,
        str(ids[removed.id]): False,
    }
    rows = {row.papra_document_id: row for row in EntityFile.objects.all()}
    assert rows[kept.id].sync_status == "synced"
    assert rows[kept.id].file_name == "renamed in Papra.pdf"
    assert rows[kept.id].remote_title == "renamed in Papra.pdf"
    assert rows[trashed.id].sync_status == "missing"
    assert rows[removed.id].sync_status == "missing"
    assert rows[removed.id].trashed_at is None  # marked, never deleted
    assert all(row.last_sync_at for row in rows.values())


def test_sync_covers_only_the_callers_files(client_for, alice, carol, medication, papra):
    document = papra.add_document("x.pdf", PDF)
    link(client_for(alice), medication, document.id)
    response = client_for(carol).post("/api/v1/entity-files/sync/papra", {}, format="json")
    assert response.status_code == 200
    assert response.json() == {}


def test_sync_with_papra_down_is_502_and_marks_nothing(alice_api, alice, medication, papra):
    document = papra.add_document("x.pdf", PDF)
    link(alice_api, medication, document.id)
    configure_papra(alice, papra, url=closed_port_url())
    response = alice_api.post("/api/v1/entity-files/sync/papra", {}, format="json")
    assert response.status_code == 502
    assert EntityFile.objects.get().sync_status == "synced"


def test_sync_anonymous_is_401(anon):
    assert anon.post("/api/v1/entity-files/sync/papra", {}, format="json").status_code == 401


def test_sync_queries_do_not_grow_with_the_files(alice_api, medication, papra):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def sync_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = alice_api.post("/api/v1/entity-files/sync/papra", {}, format="json")
        assert response.status_code == 200
        return len(queries)

    def add(count):
        for _ in range(count):
            document = papra.add_document(
                f"{len(papra.documents)}.pdf", PDF + bytes(len(papra.documents))
            )
            link(alice_api, medication, document.id)

    add(2)
    with_two = sync_queries()
    add(4)
    # The files are read in one query and written in a fixed number of statements.
    assert sync_queries() == with_two


# --- the token stays secret ------------------------------------------------------------------


def test_the_token_is_never_logged(alice_api, alice, medication, papra, caplog):
    caplog.set_level(logging.DEBUG)
    document = papra.add_document("x.pdf", PDF)
    link(alice_api, medication, document.id)
    alice_api.get("/api/v1/papra/documents/search", {"query": "x"})
    papra.api_key = "ppapi_" + "r" * 64
    alice_api.get("/api/v1/papra/organizations")
    configure_papra(alice, papra, url=closed_port_url())
    alice_api.get("/api/v1/papra/organizations")
    assert caplog.records
    for record in caplog.records:
        assert "ppapi_" not in record.getMessage()


@pytest.mark.parametrize(
    "body",
    [{"papra_document_id": {"a": []}}, {"papra_document_id": 12}, [], {"description": "x"}],
)
def test_link_junk_is_422_never_500(alice_api, medication, papra, body):
    response = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/link-papra", body, format="json"
    )
    assert response.status_code == 422


def test_routes_answer_with_a_trailing_slash(alice_api, medication, papra):
    document = papra.add_document("x.pdf", PDF)
    assert alice_api.get("/api/v1/papra/organizations/").status_code == 200
    assert alice_api.get("/api/v1/papra/documents/search/").status_code == 200
    response = alice_api.post(
        f"/api/v1/entity-files/medication/{medication.pk}/link-papra/",
        {"papra_document_id": document.id},
        format="json",
    )
    assert response.status_code == 200
    assert alice_api.post("/api/v1/entity-files/sync/papra/", {}, format="json").status_code == 200
