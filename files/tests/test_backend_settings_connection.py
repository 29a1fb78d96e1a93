"""Test-connection against the loopback Paperless-ngx and Papra servers (real sockets), and
/paperless/storage-stats."""

from __future__ import annotations

import logging
import socket

import pytest

from files.models import EntityFile
from files.tests.helpers import factory_for
from files.tests.paperless_server import PASSWORD, TOKEN, USERNAME, VERSION
from files.tests.papra_server import API_KEY
from files.tests.papra_server import VERSION as PAPRA_VERSION
from records.models import Medication

pytestmark = pytest.mark.django_db

PAPERLESS_TEST = "/api/v1/paperless/test-connection"
PAPRA_TEST = "/api/v1/papra/test-connection"


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def authorizations(server) -> list[str]:
    return [headers.get("Authorization", "") for _, _, headers in server.state.requests]


# --- Paperless-ngx -------------------------------------------------------------------------


def test_paperless_token_connects_and_reports_the_version(alice_api, paperless_server, caplog):
    with caplog.at_level(logging.DEBUG):
        response = alice_api.post(
            PAPERLESS_TEST,
            {"paperless_url": paperless_server.url, "paperless_api_token": TOKEN},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "connected",
        "message": f"Connected to Paperless-ngx {VERSION}.",
        "auth_method": "token",
        "version": VERSION,
    }
    assert f"Token {TOKEN}" in authorizations(paperless_server)
    assert TOKEN not in caplog.text


def test_paperless_user_name_and_password_connect(alice_api, paperless_server):
    response = alice_api.post(
        PAPERLESS_TEST,
        {
            "paperless_url": paperless_server.url,
            "paperless_api_token": "",
            "paperless_username": USERNAME,
            "paperless_password": PASSWORD,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "connected"
    assert response.json()["auth_method"] == "basic"


def test_refused_token_is_a_failed_answer_not_a_401(alice_api, paperless_server):
    response = alice_api.post(
        PAPERLESS_TEST,
        {"paperless_url": paperless_server.url, "paperless_api_token": "wrong-token-1"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed"
    assert "refused" in body["message"]
    assert "wrong-token-1" not in response.content.decode()


def test_empty_body_tries_the_saved_settings(alice, alice_api, paperless_for):
    server = paperless_for(alice)
    response = alice_api.post(
        PAPERLESS_TEST,
        {"paperless_url": "", "paperless_api_token": "", "paperless_password": ""},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "connected"
    assert TOKEN not in response.content.decode()
    assert f"Token {TOKEN}" in authorizations(server)


def test_credentials_sent_are_tried_even_with_a_token_saved(alice, alice_api, paperless_for):
    import base64

    server = paperless_for(alice)
    response = alice_api.post(
        PAPERLESS_TEST,
        {"paperless_api_token": "", "paperless_username": USERNAME, "paperless_password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["auth_method"] == "basic"
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert authorizations(server)[-1] == f"Basic {basic}"
    response = alice_api.post(
        PAPERLESS_TEST,
        {"paperless_username": USERNAME, "paperless_password": "not-it"},
        format="json",
    )
    assert response.json()["status"] == "failed"


def test_saved_token_is_never_sent_to_another_address(
    alice, alice_api, paperless_for, paperless_server
):
    paperless_for(alice)
    other = closed_port_url()
    response = alice_api.post(PAPERLESS_TEST, {"paperless_url": other}, format="json")
    assert response.status_code == 422
    assert "paperless_api_token" in response.json()["errors"]


def test_nothing_saved_and_nothing_sent(alice_api):
    response = alice_api.post(PAPERLESS_TEST, {}, format="json")
    assert response.status_code == 422
    assert "paperless_url" in response.json()["errors"]
    response = alice_api.post(PAPERLESS_TEST, {"paperless_url": "http://paper.lan"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "failed"


def test_closed_port_is_502(alice_api):
    response = alice_api.post(
        PAPERLESS_TEST,
        {"paperless_url": closed_port_url(), "paperless_api_token": TOKEN},
        format="json",
    )
    assert response.status_code == 502
    body = response.json()
    assert body["status"] == "error" and "unreachable" in body["message"]
    assert TOKEN not in response.content.decode()


def test_slow_server_is_504(alice_api, paperless_server, settings):
    settings.DOCUMENT_BACKEND_TIMEOUT = 0.3
    paperless_server.state.delay = 1.5
    response = alice_api.post(
        PAPERLESS_TEST,
        {"paperless_url": paperless_server.url, "paperless_api_token": TOKEN},
        format="json",
    )
    assert response.status_code == 504
    assert response.json()["status"] == "error"


def test_server_error_is_502(alice_api, paperless_server):
    paperless_server.state.fail_with = 500
    response = alice_api.post(
        PAPERLESS_TEST,
        {"paperless_url": paperless_server.url, "paperless_api_token": TOKEN},
        format="json",
    )
    assert response.status_code == 502


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://u:p@paper.lan", "http://[fe80::1]"])
def test_bad_url_is_422(alice_api, url):
    response = alice_api.post(
        PAPERLESS_TEST, {"paperless_url": url, "paperless_api_token": TOKEN}, format="json"
    )
    assert response.status_code == 422


# --- Papra ---------------------------------------------------------------------------------


def test_papra_key_lists_the_organisations(alice_api, papra_server, caplog):
    with caplog.at_level(logging.DEBUG):
        response = alice_api.post(
            PAPRA_TEST, {"papra_url": papra_server.url, "papra_api_token": API_KEY}, format="json"
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "success"
    assert body["organizations"] == [
        {"id": org["id"], "name": org["name"]} for org in papra_server.organizations
    ]
    assert body["version"] == PAPRA_VERSION
    assert API_KEY not in response.content.decode() and API_KEY not in caplog.text
    assert any(r["authorization"] == f"Bearer {API_KEY}" for r in papra_server.requests)


def test_papra_saved_key_is_used_when_empty(alice_api, papra_server):
    saved = alice_api.put(
        "/api/v1/papra/settings",
        {"papra_url": papra_server.url, "papra_api_token": API_KEY, "papra_enabled": True},
        format="json",
    )
    assert saved.status_code == 200, saved.content
    response = alice_api.post(PAPRA_TEST, {"papra_url": "", "papra_api_token": ""}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "success"


def test_papra_refused_key_is_failed(alice_api, papra_server):
    response = alice_api.post(
        PAPRA_TEST, {"papra_url": papra_server.url, "papra_api_token": "ppapi_wrong"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["organizations"] == []


def test_papra_closed_port_is_502_and_slow_is_504(alice_api, papra_server, settings):
    response = alice_api.post(
        PAPRA_TEST, {"papra_url": closed_port_url(), "papra_api_token": API_KEY}, format="json"
    )
    assert response.status_code == 502
    settings.DOCUMENT_BACKEND_TIMEOUT = 0.3
    papra_server.delay = 1.5
    response = alice_api.post(
        PAPRA_TEST, {"papra_url": papra_server.url, "papra_api_token": API_KEY}, format="json"
    )
    assert response.status_code == 504


# --- storage stats -------------------------------------------------------------------------


def _file(user, patient, backend, size, **extra):
    medication = factory_for(Medication)(patient=patient)
    return EntityFile.objects.create(
        patient=patient,
        entity_type="medication",
        entity_id=medication.pk,
        file_name="f.pdf",
        stored_name=f"stats/{backend}/{EntityFile.objects.count()}-{size}.pdf",
        file_size=size,
        file_type="application/pdf",
        sha256="0" * 64,
        storage_backend=backend,
        uploaded_by=user,
        **extra,
    )


def test_storage_stats_count_and_size_per_backend(alice, carol, alice_api, shared_patient):
    from django.utils import timezone

    _file(alice, shared_patient, "local", 100)
    _file(alice, shared_patient, "local", 50)
    _file(alice, shared_patient, "paperless", 700)
    _file(alice, shared_patient, "papra", 9)
    _file(alice, shared_patient, "local", 1000, trashed_at=timezone.now())  # in the trash
    _file(carol, shared_patient, "local", 5000)  # someone else's upload
    response = alice_api.get("/api/v1/paperless/storage-stats")
    assert response.status_code == 200
    assert response.json() == {
        "local": {"count": 2, "size": 150},
        "paperless": {"count": 1, "size": 700},
        "papra": {"count": 1, "size": 9},
    }


def test_storage_stats_is_one_query_however_many_files(alice, alice_api, patient):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def file_queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert alice_api.get("/api/v1/paperless/storage-stats").status_code == 200
        return [q["sql"] for q in captured if "files_entityfile" in q["sql"]]

    _file(alice, patient, "local", 1)
    assert len(file_queries()) == 1
    for size in range(12):
        _file(alice, patient, "paperless" if size % 2 else "local", size)
    assert len(file_queries()) == 1
