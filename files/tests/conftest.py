"""Fixtures for the files tests: the entity-file storage on local disk and on a real S3 server.

Use `files_storage` to run a test on both backends, or `local_files_storage` / `s3_files_storage`
for one. Every test here gets local storage under its tmp_path unless it asks for another, so
no test writes into the real var/media/files.
"""

import pytest

from files.tests.paperless_server import paperless_for, paperless_server  # noqa: F401 - fixtures
from files.tests.papra_server import papra_server  # noqa: F401 - a fixture, found by name
from files.tests.s3server import (  # noqa: F401 - fixtures are found by name
    files_storage,
    local_files_storage,
    s3_bucket,
    s3_files_storage,
    s3_server,
)


@pytest.fixture(autouse=True)
def _files_under_tmp_path(request):
    # Autouse fixtures are set up first, so a test's own storage fixture still wins.
    request.getfixturevalue("local_files_storage")
