"""files/storage.py on both backends: the local disk and a real S3 server (moto) on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import TemporaryUploadedFile

from files import storage
from files.tests.s3server import S3_LOCATION, s3_client

MB = 1024 * 1024


@pytest.fixture
def temporary_upload():
    """Makes temporary uploads as Django's upload handler leaves them, written 1 MB at a time;
    each comes with the SHA-256 of its bytes, and is closed after the test."""
    uploads = []

    def make(
        data_size: int, name: str = "scan.bin", seed: int = 13
    ) -> tuple[TemporaryUploadedFile, str]:
        upload = TemporaryUploadedFile(name, "application/octet-stream", data_size, None)
        uploads.append(upload)
        digest = hashlib.sha256()
        rng = random.Random(seed)
        left = data_size
        while left:
            block = rng.randbytes(min(MB, left))
            upload.write(block)
            digest.update(block)
            left -= len(block)
        upload.flush()
        upload.seek(0)
        return upload, digest.hexdigest()

    yield make
    for upload in uploads:
        upload.close()  # already moved away by a local save: Django ignores the missing file


def read_all(name: str, **kwargs) -> bytes:
    return b"".join(storage.stream(name, **kwargs))


def test_file_storage_follows_settings(files_storage):
    backend = type(storage.file_storage()).__name__
    assert backend == {"local": "FileSystemStorage", "s3": "S3Storage"}[files_storage]


def test_save_and_read_back_whole_and_by_ranges(files_storage, temporary_upload):
    upload, sha256 = temporary_upload(5 * MB + 7)
    data = upload.read()
    upload.seek(0)

    name = storage.save("2026/05/report.bin", upload)

    assert name == "2026/05/report.bin"
    assert storage.exists(name)
    assert storage.size(name) == len(data)
    chunks = list(storage.stream(name, chunk_size=MB))
    assert max(len(chunk) for chunk in chunks) <= MB
    assert len(chunks) >= 5
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == sha256
    assert read_all(name, start=0, end=0) == data[:1]
    middle = len(data) // 2
    assert (
        read_all(name, start=middle, end=middle + 99_999, chunk_size=4096)
        == data[middle : middle + 100_000]
    )
    assert read_all(name, start=len(data) - 1) == data[-1:]
    assert read_all(name, start=len(data) - 1, end=len(data) + 50) == data[-1:]
    assert read_all(name, start=len(data)) == b""  # past the end: nothing (callers answer 416)


def test_small_in_memory_content_and_empty_files(files_storage):
    name = storage.save("notes/letter.txt", ContentFile(b"discharge letter", name="letter.txt"))
    assert read_all(name) == b"discharge letter"
    assert read_all(name, start=10) == b"letter"

    empty = storage.save("notes/empty.txt", ContentFile(b"", name="empty.txt"))
    assert storage.size(empty) == 0
    assert read_all(empty) == b""


def test_saving_twice_under_one_name_keeps_both(files_storage, temporary_upload):
    first = storage.save("a/same.txt", ContentFile(b"first"))
    upload, _ = temporary_upload(1000)
    second = storage.save("a/same.txt", upload)
    assert first == "a/same.txt"
    assert second != first and second.startswith("a/same_")
    assert read_all(first) == b"first"
    assert storage.size(second) == 1000


def test_delete_and_missing_objects(files_storage):
    name = storage.save("gone/soon.txt", ContentFile(b"bytes"))
    storage.delete(name)
    assert not storage.exists(name)
    storage.delete(name)  # already gone: no error

    with pytest.raises(FileNotFoundError):
        storage.stream(name)  # raised on the call, before any response has started
    with pytest.raises(FileNotFoundError):
        storage.stream("never/there.pdf", start=3, end=9)
    with pytest.raises(FileNotFoundError):
        storage.size(name)


def test_invalid_ranges_are_refused(files_storage):
    name = storage.save("r.txt", ContentFile(b"0123456789"))
    with pytest.raises(ValueError):
        storage.stream(name, start=5, end=4)
    with pytest.raises(ValueError):
        storage.stream(name, start=-1)


def test_all_names_lists_every_stored_object(files_storage, temporary_upload):
    assert list(storage.all_names()) == []
    saved = {
        storage.save(name, ContentFile(b"x"))
        for name in ("a.pdf", "2026/01/b.png", "2026/02/deep/c.dcm")
    }
    upload, _ = temporary_upload(10)
    saved.add(storage.save("2026/03/d.bin", upload))

    assert sorted(storage.all_names()) == sorted(saved)
    storage.delete("a.pdf")
    assert "a.pdf" not in set(storage.all_names())


def test_all_names_pages_through_the_listing(s3_files_storage, s3_server, s3_bucket, monkeypatch):
    # Pages of two keys instead of S3's 1000, so five objects need three listing calls.
    monkeypatch.setattr(storage, "LIST_PAGE_SIZE", 2)
    client = s3_client(s3_server)
    for index in range(5):
        client.put_object(Bucket=s3_bucket, Key=f"{S3_LOCATION}/many/{index}.txt", Body=b"")
    client.put_object(Bucket=s3_bucket, Key="elsewhere.txt", Body=b"")  # outside the prefix

    assert list(storage.all_names()) == [f"many/{index}.txt" for index in range(5)]


def test_local_files_are_readable_by_the_server_account_only(local_files_storage, temporary_upload):
    upload, _ = temporary_upload(10)
    paths = [
        Path(storage.file_storage().path(storage.save("2026/05/moved.bin", upload))),
        Path(storage.file_storage().path(storage.save("2026/05/written.txt", ContentFile(b"x")))),
    ]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths[0].parent.stat().st_mode) == 0o700


def test_names_cannot_escape_the_storage(files_storage):
    with pytest.raises(SuspiciousOperation):
        storage.save("../outside.txt", ContentFile(b"x"))
    with pytest.raises(SuspiciousOperation):
        storage.stream("../../etc/passwd")


def test_saving_a_temporary_upload_does_not_read_it_into_memory(files_storage, temporary_upload):
    file_size = 50 * MB
    upload, sha256 = temporary_upload(file_size, seed=7)
    # The first S3 call loads botocore's service model (~10 MB, once per process): not the upload.
    storage.save("warm-up.txt", ContentFile(b"x"))

    tracemalloc.start()
    try:
        name = storage.save("big/scan.bin", upload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Measured: ~0 MB local (a move), ~10 MB on S3 (ten part uploads in flight, each sending
    # 1 MB checksummed blocks); through upload_fileobj the peak was 61 MB.
    assert peak < 20 * MB, f"peak {peak / MB:.1f} MB while saving {file_size / MB:.0f} MB"
    assert storage.size(name) == file_size
    digest = hashlib.sha256()
    for chunk in storage.stream(name):
        digest.update(chunk)
    assert digest.hexdigest() == sha256


def settings_in_child(tmp_path, **env) -> subprocess.CompletedProcess:
    """Import medikeep.settings in a fresh interpreter with exactly these storage variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FILES_"))}
    code = (
        "import json, medikeep.settings as s; print(json.dumps([s.STORAGES['files'], "
        "s.FILES_MAX_UPLOAD_BYTES, s.FILES_TRASH_RETENTION_DAYS], default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "MEDIKEEP_VAR_DIR": str(tmp_path), **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_choose_the_backend_from_the_environment(tmp_path):
    local = settings_in_child(tmp_path)
    assert local.returncode == 0, local.stderr
    files, max_bytes, retention = json.loads(local.stdout)
    assert files["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert files["OPTIONS"]["location"] == str(tmp_path / "media" / "files")
    assert (max_bytes, retention) == (1024**3, 7)

    s3 = settings_in_child(
        tmp_path,
        FILES_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="records",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
        AWS_LOCATION="/medikeep/",
        FILES_MAX_UPLOAD_BYTES="1000",
        FILES_TRASH_RETENTION_DAYS="30",
    )
    assert s3.returncode == 0, s3.stderr
    files, max_bytes, retention = json.loads(s3.stdout)
    assert files["BACKEND"] == "storages.backends.s3.S3Storage"
    options = files["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"], options["location"]) == (
        "records",
        "http://127.0.0.1:9000",
        "medikeep",
    )
    assert (options["default_acl"], options["querystring_auth"], options["file_overwrite"]) == (
        None,
        True,
        False,
    )
    assert (max_bytes, retention) == (1000, 30)


def test_settings_refuse_s3_without_a_bucket_or_an_unknown_backend(tmp_path):
    no_bucket = settings_in_child(tmp_path, FILES_STORAGE="s3")
    assert no_bucket.returncode != 0
    # One line naming the variable and what it needs, no traceback (docs/configuration.md).
    assert "Traceback" not in no_bucket.stderr
    assert "AWS_STORAGE_BUCKET_NAME='': expected the bucket's name" in no_bucket.stderr

    unknown = settings_in_child(tmp_path, FILES_STORAGE="ftp")
    assert unknown.returncode != 0
    assert "FILES_STORAGE='ftp': expected one of local, s3" in unknown.stderr
