"""view and download: streamed bytes, ranges, validators and safety headers, on local disk
and on a real S3 server (moto)."""

from __future__ import annotations

import hashlib
import os

import pytest

from files import storage
from files.models import EntityFile
from files.tests.helpers import PDF, factory_for, png_bytes, upload_of
from records.models import Medication

pytestmark = pytest.mark.django_db

BIG = PDF + os.urandom(3 * 1024 * 1024)  # a PDF header, then 3 MB: several stream chunks


@pytest.fixture
def medication(patient):
    return factory_for(Medication)(patient=patient)


def _upload(client, medication, name, content):
    response = client.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of(name, content)},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return EntityFile.objects.get(pk=response.json()["id"])


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_round_trip_and_headers(files_storage, alice_api, medication):
    stored = _upload(alice_api, medication, "Bericht über Blutwerte.pdf", BIG)
    assert stored.sha256 == hashlib.sha256(BIG).hexdigest()
    assert storage.size(stored.stored_name) == len(BIG)

    download = alice_api.get(f"/api/v1/entity-files/files/{stored.pk}/download")
    assert download.status_code == 200
    assert _body(download) == BIG
    assert download["Content-Length"] == str(len(BIG))
    assert download["Content-Type"] == "application/pdf"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Accept-Ranges"] == "bytes"
    assert download["ETag"] == f'"{stored.sha256}"'
    assert download["Last-Modified"]
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''Bericht%20%C3%BCber%20Blutwerte.pdf" in disposition

    view = alice_api.get(f"/api/v1/entity-files/files/{stored.pk}/view")
    assert view["Content-Disposition"].startswith("inline;")
    assert "default-src 'none'" in view["Content-Security-Policy"]
    assert _body(view) == BIG


def test_ranges(files_storage, alice_api, medication):
    stored = _upload(alice_api, medication, "scan.pdf", BIG)
    url = f"/api/v1/entity-files/files/{stored.pk}/view"
    size = len(BIG)
    cases = [
        ("bytes=0-0", 0, 0),
        ("bytes=100-299", 100, 299),
        ("bytes=-500", size - 500, size - 1),
        (f"bytes={size - 10}-", size - 10, size - 1),
        (f"bytes=1000-{size * 2}", 1000, size - 1),
    ]
    for header, start, end in cases:
        response = alice_api.get(url, HTTP_RANGE=header)
        assert response.status_code == 206, header
        assert response["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert response["Content-Length"] == str(end - start + 1)
        assert _body(response) == BIG[start : end + 1], header
    unsatisfiable = alice_api.get(url, HTTP_RANGE=f"bytes={size}-")
    assert unsatisfiable.status_code == 416
    assert unsatisfiable["Content-Range"] == f"bytes */{size}"
    # Malformed or multiple ranges: the whole file (allowed by RFC 9110).
    for header in ("bytes=a-b", "bytes=0-1,5-6", "items=0-1"):
        response = alice_api.get(url, HTTP_RANGE=header)
        assert response.status_code == 200
        assert len(_body(response)) == size
    # If-Range with a stale validator gets the whole file; with the current one, the range.
    stale = alice_api.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert stale.status_code == 200
    fresh = alice_api.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{stored.sha256}"')
    assert fresh.status_code == 206


def test_conditional_requests(local_files_storage, alice_api, medication):
    stored = _upload(alice_api, medication, "scan.pdf", PDF)
    url = f"/api/v1/entity-files/files/{stored.pk}/download"
    first = alice_api.get(url)
    assert alice_api.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert alice_api.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    later = alice_api.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert later.status_code == 304


def test_head_sends_headers_only(local_files_storage, alice_api, medication):
    stored = _upload(alice_api, medication, "scan.pdf", BIG)
    response = alice_api.head(f"/api/v1/entity-files/files/{stored.pk}/download")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(BIG))
    assert response.content == b""


def test_text_and_images_inline(local_files_storage, alice_api, medication):
    text = _upload(alice_api, medication, "notes.txt", b"pulse 64\n")
    view = alice_api.get(f"/api/v1/entity-files/files/{text.pk}/view")
    # Text is always shown as plain text, sandboxed: never as a page of ours.
    assert view["Content-Type"] == "text/plain; charset=utf-8"
    assert view["Content-Security-Policy"].startswith("sandbox")
    image = _upload(alice_api, medication, "x.png", png_bytes())
    view = alice_api.get(f"/api/v1/entity-files/files/{image.pk}/view")
    assert view["Content-Type"] == "image/png"
    assert view["Content-Security-Policy"].startswith("sandbox")


def test_missing_object_is_a_clear_404(files_storage, alice_api, medication):
    stored = _upload(alice_api, medication, "scan.pdf", PDF)
    storage.delete(stored.stored_name)
    response = alice_api.get(f"/api/v1/entity-files/files/{stored.pk}/download")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


def test_upload_is_streamed_to_storage(files_storage, alice_api, medication):
    """The stored object is the upload, byte for byte, under a key of our making."""
    stored = _upload(alice_api, medication, "../../etc/passwd.pdf", BIG)
    assert stored.stored_name.startswith("medication/")
    assert ".." not in stored.stored_name
    assert b"".join(storage.stream(stored.stored_name)) == BIG
    assert stored.file_name == "passwd.pdf"
