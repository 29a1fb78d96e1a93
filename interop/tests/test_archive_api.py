"""GET / POST /api/v1/users/me/archive."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from interop.tests.archive_helpers import BOT_TOKEN, build_account, members
from patients.models import Patient

URL = "/api/v1/users/me/archive"


@pytest.fixture(autouse=True)
def _photos_in_tmp(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def _download(api) -> bytes:
    response = api.get(URL)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    return b"".join(response.streaming_content)


def _upload(api, data: bytes, name: str = "account.zip"):
    return api.post(
        URL, {"file": SimpleUploadedFile(name, data, "application/zip")}, format="multipart"
    )


@pytest.mark.django_db
def test_download_then_import_into_another_account(alice, make_user, client_for):
    build_account(alice, patients=1)
    data = _download(client_for(alice))
    assert "manifest.json" in members(data)
    assert BOT_TOKEN.encode() not in b"".join(members(data).values())

    erin = make_user(username="erin")
    response = _upload(client_for(erin), data)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created_account"] is False
    assert body["user"]["username"] == "erin"
    assert body["counts"]["patients.patient"] == 1
    assert body["channels_needing_settings"] == ["Telegram"]
    assert Patient.objects.filter(owner=erin).count() == 1
    # Again: refused, nothing more.
    again = _upload(client_for(erin), data)
    assert again.status_code == 409
    assert Patient.objects.filter(owner=erin).count() == 1


@pytest.mark.django_db
def test_only_what_the_caller_owns(alice, bob, shared_patient, client_for):
    build_account(alice, patients=1)
    data = _download(client_for(bob))  # bob sees alice's shared patient, owns nothing
    assert (
        b"".join(members(data)[k] for k in members(data) if k.startswith("data/")).count(
            b'"first_name": "Alice"'
        )
        == 0
    )


@pytest.mark.django_db
def test_anonymous_is_401(anon):
    assert anon.get(URL).status_code == 401
    assert _upload(anon, b"PK").status_code == 401


@pytest.mark.django_db
def test_not_a_zip_is_422(alice_api):
    response = _upload(alice_api, b"not a zip at all")
    assert response.status_code == 422
    assert "zip" in response.json()["error"]


@pytest.mark.django_db
def test_missing_file_is_422(alice_api):
    response = alice_api.post(URL, {}, format="multipart")
    assert response.status_code == 422


@pytest.mark.django_db
def test_tampered_archive_is_422_and_writes_nothing(alice, make_user, client_for):
    import zipfile

    build_account(alice, patients=1)
    data = _download(client_for(alice))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "data/patients.patient.json":
                content = content.replace(b'"gender": "female"', b'"gender": "male"  ')
            dst.writestr(info.filename, content)
    erin = make_user(username="erin")
    response = _upload(client_for(erin), out.getvalue())
    assert response.status_code == 422
    assert "checksum" in response.json()["error"]
    assert not Patient.objects.filter(owner=erin).exists()


@pytest.mark.django_db
def test_too_big_is_413(alice_api, settings):
    settings.FILES_MAX_UPLOAD_BYTES = 1000
    response = _upload(alice_api, b"x" * 5000)
    assert response.status_code == 413


@pytest.mark.django_db
def test_rate_limited_like_uploads(alice_api, settings):
    settings.API_RATES = {**settings.API_RATES, "upload": "2/min"}
    codes = [alice_api.get(URL).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.mark.django_db
def test_an_archive_that_unpacks_too_far_is_413(alice, client_for, settings):
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", b"{}")
        zf.writestr("files/1/bomb.bin", b"\0" * 200_000)
    settings.FILES_MAX_UPLOAD_BYTES = 20_000
    response = _upload(client_for(alice), out.getvalue())
    assert response.status_code == 413, response.content
