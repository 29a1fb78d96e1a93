"""Fixtures for the files tests: the entity-file storage on local disk and on a real S3 server.

Use `files_storage` to run a test on both backends, or `local_files_storage` / `s3_files_storage`
for one.
"""

from files.tests.s3server import (  # noqa: F401 - fixtures are found by name
    files_storage,
    local_files_storage,
    s3_bucket,
    s3_files_storage,
    s3_server,
)
