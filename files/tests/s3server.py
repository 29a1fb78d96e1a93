"""A real S3 server on loopback for the files tests (moto's server mode; no mocked clients).

CI starts `moto_server` itself and passes its URL in MEDIKEEP_TEST_S3_ENDPOINT; otherwise the
session starts one on a free loopback port and stops it at the end. Each test gets its own bucket.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

REGION = "us-east-1"
S3_LOCATION = "entity-files"  # the key prefix s3_files_storage sets, as AWS_LOCATION does
# moto accepts any keys; fixed ones keep boto3 from looking for real credentials.
CREDENTIALS = {"aws_access_key_id": "medikeep-test", "aws_secret_access_key": "medikeep-test"}


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL of a running S3 server."""
    endpoint = os.environ.get("MEDIKEEP_TEST_S3_ENDPOINT")
    if endpoint:
        yield endpoint.rstrip("/")
        return
    # A child process rather than moto's in-process ThreadedMotoServer: in-process, the server's
    # own buffers count in the tests' tracemalloc peaks and it competes with them for the GIL.
    with tempfile.TemporaryFile() as log:
        process, endpoint = _start_moto(log)
        try:
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start_moto(log, attempts: int = 3) -> tuple[subprocess.Popen, str]:
    for _ in range(attempts):
        port = _free_port()  # another process may take it before moto binds: then try again
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return process, f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.05)
        process.kill()
        process.wait()
    log.seek(0)
    raise RuntimeError(f"moto_server did not start:\n{log.read().decode(errors='replace')[-2000:]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def s3_storages(base: dict, endpoint: str, bucket: str, location: str = "") -> dict:
    """`base` (settings.STORAGES) with the files alias on S3, set up as settings.py does."""
    return {
        **base,
        "files": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "region_name": REGION,
                "location": location,
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
    }


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh, empty bucket; emptied and removed afterwards so a long-lived server stays small."""
    client = s3_client(s3_server)
    bucket = f"medikeep-test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    yield bucket
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": entry["Key"]} for entry in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_files_storage(settings, s3_server, s3_bucket):
    """STORAGES["files"] on S3 (a fresh bucket, keys under a prefix as AWS_LOCATION sets)."""
    settings.STORAGES = s3_storages(
        settings.STORAGES, s3_server, s3_bucket, location="entity-files"
    )
    return "s3"


@pytest.fixture
def local_files_storage(settings, tmp_path):
    """STORAGES["files"] on the local disk, under this test's tmp_path."""
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": tmp_path / "files",
                "file_permissions_mode": 0o600,  # as settings.py
                "directory_permissions_mode": 0o700,
            },
        },
    }
    return "local"


@pytest.fixture(params=["local", "s3"])
def files_storage(request):
    """Runs a test once per backend; the value is "local" or "s3"."""
    return request.getfixturevalue(f"{request.param}_files_storage")
