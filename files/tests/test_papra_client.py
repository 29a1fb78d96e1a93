"""The Papra client against the loopback Papra server: every call over a real socket."""

from __future__ import annotations

import socket

import pytest

from files.backends import (
    BackendAuthFailed,
    BackendDocumentNotFound,
    BackendNotConfigured,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
)
from files.backends.papra import PapraClient
from files.tests.helpers import PDF
from files.tests.papra_server import VERSION


@pytest.fixture
def client(papra_server):
    return PapraClient(papra_server.url, papra_server.api_key, papra_server.organization_id)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_test_reports_organizations_and_version(client, papra_server):
    answer = client.test()
    assert answer["status"] == "success"
    assert answer["version"] == VERSION
    assert answer["organizations"] == [
        {"id": o["id"], "name": o["name"]} for o in papra_server.organizations
    ]
    sent = [r for r in papra_server.requests if r["path"] == "/api/organizations"]
    assert sent[0]["authorization"] == f"Bearer {papra_server.api_key}"
    assert all(papra_server.api_key not in r["query"] for r in papra_server.requests)


def test_a_refused_key_is_an_auth_failure_without_the_key(papra_server):
    wrong = "ppapi_" + "w" * 64
    client = PapraClient(papra_server.url, wrong, papra_server.organization_id)
    with pytest.raises(BackendAuthFailed) as caught:
        client.test()
    assert caught.value.status_code == 502
    assert wrong not in str(caught.value.detail)
    assert wrong not in repr(client)


def test_upload_then_describe_open_and_confirm(client, papra_server):
    remote = client.upload(
        iter_file(PDF), file_name="scan.pdf", content_type="application/pdf", title="Scan"
    )
    assert remote.task_id is None
    stored = papra_server.documents[remote.document_id]
    assert stored.content == PDF and stored.name == "scan.pdf"
    assert stored.organization_id == papra_server.organization_id

    meta = client.describe(remote.document_id)
    assert meta["name"] == "scan.pdf" and meta["mime"] == "application/pdf"
    assert meta["size"] == len(PDF)

    content = client.open(remote.document_id)
    assert content.size == len(PDF)
    assert b"".join(content.chunks) == PDF

    import hashlib

    digest = hashlib.sha256(PDF).hexdigest()
    assert client.confirm(remote.document_id, size=len(PDF), sha256=digest)
    assert not client.confirm(remote.document_id, size=len(PDF), sha256="0" * 64)
    assert not client.confirm(remote.document_id, size=len(PDF) + 1, sha256=digest)


def iter_file(data: bytes):
    import io

    return io.BytesIO(data)


def test_the_same_content_twice_is_refused_clearly(client, papra_server):
    client.upload(iter_file(PDF), file_name="a.pdf", content_type="application/pdf")
    with pytest.raises(BackendRejected, match="same content"):
        client.upload(iter_file(PDF), file_name="b.pdf", content_type="application/pdf")


def test_search_pages_are_zero_based_and_skip_the_trash(client, papra_server):
    for n in range(5):
        papra_server.add_document(f"blood test {n}.pdf", PDF + bytes([n]))
    papra_server.add_document("x-ray.png", b"png", mime_type="image/png")
    trashed = papra_server.add_document("blood test old.pdf", PDF + b"old")
    papra_server.trash(trashed.id)

    results, count = client.search("blood", 0, 2)
    assert count == 5
    assert [r["name"] for r in results] == ["blood test 0.pdf", "blood test 1.pdf"]
    results, _ = client.search("blood", 2, 2)
    assert [r["name"] for r in results] == ["blood test 4.pdf"]
    results, count = client.search("", 0, 500)  # the page size is capped at Papra's 100
    assert count == 6 and len(results) == 6


def test_exists_tells_deleted_from_present(client, papra_server):
    kept = papra_server.add_document("kept.pdf", PDF)
    trashed = papra_server.add_document("trashed.pdf", PDF + b"1")
    removed = papra_server.add_document("removed.pdf", PDF + b"2")
    papra_server.trash(trashed.id)
    papra_server.remove(removed.id)
    assert client.exists(kept.id) is True
    assert client.exists(trashed.id) is False
    assert client.exists(removed.id) is False
    with pytest.raises(BackendDocumentNotFound):
        client.describe(trashed.id)


def test_a_foreign_organization_is_a_settings_problem(papra_server):
    client = PapraClient(papra_server.url, papra_server.api_key, "org_" + "z" * 24)
    with pytest.raises(BackendNotConfigured, match="not a member"):
        client.search("", 0, 10)


def test_without_an_organization_the_only_one_is_used_or_asked_for(papra_server):
    client = PapraClient(papra_server.url, papra_server.api_key)
    with pytest.raises(BackendNotConfigured, match="Choose the Papra organization"):
        client.search("", 0, 10)
    papra_server.organizations = papra_server.organizations[:1]
    assert client.search("", 0, 10) == ([], 0)
    assert client.organization_id == papra_server.organization_id


def test_a_closed_port_is_unavailable():
    client = PapraClient(closed_port_url(), "ppapi_" + "a" * 64, "org_" + "a" * 24)
    with pytest.raises(BackendUnavailable, match="refused") as caught:
        client.test()
    assert caught.value.status_code == 502


def test_a_slow_server_times_out(papra_server, settings):
    settings.DOCUMENT_BACKEND_TIMEOUT = 0.5
    papra_server.delay = 2
    client = PapraClient(papra_server.url, papra_server.api_key, papra_server.organization_id)
    with pytest.raises(BackendTimeout) as caught:
        client.organizations()
    assert caught.value.status_code == 504


def test_missing_url_or_key_is_not_configured(papra_server):
    with pytest.raises(BackendNotConfigured):
        PapraClient("", "ppapi_x")
    with pytest.raises(BackendNotConfigured):
        PapraClient(papra_server.url, "")


def test_upload_streams_and_keeps_a_non_ascii_name(client, papra_server):
    chunks = iter([PDF[:10], PDF[10:]])

    class Reader:  # read()-able without a size, as the remote code hands over stored files
        def read(self, size=-1):
            return next(chunks, b"")

    remote = client.upload(Reader(), file_name='Résumé "2024".pdf', content_type="application/pdf")
    stored = papra_server.documents[remote.document_id]
    assert stored.content == PDF
    assert stored.name == 'Résumé "2024".pdf'
