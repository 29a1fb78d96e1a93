"""Entity-file bytes: the only module that touches them, so the rest of the app is storage-agnostic.

The storage is the alias "files" of settings.STORAGES: a FileSystemStorage under MEDIA_ROOT by
default, or django-storages' S3Storage (FILES_STORAGE=s3). Nothing here holds a whole file in
memory: uploads move or upload in parts, reads come back in chunks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from django.core.files.storage import FileSystemStorage, Storage, storages

CHUNK_SIZE = 256 * 1024
LIST_PAGE_SIZE = 1000  # keys per S3 listing call (S3's maximum)


def file_storage() -> Storage:
    """The storage for entity files. Looked up on every call: Django rebuilds `storages` when
    STORAGES changes (override_settings), so tests that switch backends get the new one."""
    return storages["files"]


def save(name: str, content) -> str:
    """Store a File/UploadedFile under `name` (or a free variant of it); return the stored name.

    The content is consumed: a TemporaryUploadedFile is moved away on local storage, so hash and
    sniff it before saving."""
    storage = file_storage()
    temporary_path = getattr(content, "temporary_file_path", None)
    if temporary_path is None or _is_local(storage):
        # FileSystemStorage moves a temporary upload (no copy through memory); S3Storage sends
        # other file objects in parts through boto3's upload_fileobj.
        return storage.save(name, content)
    return _s3_save_from_path(storage, name, content, temporary_path())


def stream(
    name: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Bytes start..end (inclusive; end None = to the end of the object), in chunks.

    Opens the object before returning, so a missing object raises FileNotFoundError here rather
    than in the middle of a response. A range wholly past the end yields nothing; callers answer
    416 from size() before getting here. Close the iterator (StreamingHttpResponse does) to
    release the file or connection early."""
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range {start}-{end}")
    storage = file_storage()
    if _is_local(storage):
        handle = open(storage.path(name), "rb")  # noqa: SIM115 - closed by the generator
        return _file_chunks(handle, start, end, chunk_size)
    return _s3_chunks(storage, name, start, end, chunk_size)


def size(name: str) -> int:
    """Size in bytes; FileNotFoundError when the object is missing."""
    return file_storage().size(name)


def exists(name: str) -> bool:
    return file_storage().exists(name)


def delete(name: str) -> None:
    """Remove the object; an object that is already gone is not an error (purges may repeat)."""
    file_storage().delete(name)


def all_names() -> Iterator[str]:
    """Every stored object's name, for the orphan report (objects with no row)."""
    storage = file_storage()
    if _is_local(storage):
        root = Path(storage.location)
        for directory, subdirectories, files in os.walk(root):
            subdirectories.sort()
            for file_name in sorted(files):
                yield (Path(directory) / file_name).relative_to(root).as_posix()
        return
    prefix = f"{storage.location}/" if storage.location else ""
    pages = storage.connection.meta.client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket_name, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
    )
    for page in pages:
        for entry in page.get("Contents", ()):
            if not entry["Key"].endswith("/"):  # folder markers made by some S3 consoles
                yield entry["Key"][len(prefix) :]


def _is_local(storage: Storage) -> bool:
    # Local or S3 are the only choices settings allow; S3 code imports boto3 lazily so the
    # embedded set-up never loads it.
    return isinstance(storage, FileSystemStorage)


def _file_chunks(handle, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            chunk = handle.read(chunk_size if remaining is None else min(chunk_size, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _s3_key(storage, name: str) -> str:
    from storages.utils import clean_name

    # The same key S3Storage itself would use (location prefix, no escape above it).
    return storage._normalize_name(clean_name(name))


def _s3_save_from_path(storage, name: str, content, path: str) -> str:
    """Upload a temporary upload from its file on disk. S3Storage._save would go through
    upload_fileobj, which copies up to ten 8 MB parts into memory at once; upload_file reads
    each part from the file as it is sent."""
    from django.core.files.utils import validate_file_name
    from storages.utils import clean_name

    # What Storage.save does around _save: a free name, checked before and after.
    validate_file_name(name, allow_relative_path=True)
    name = clean_name(storage.get_available_name(name))
    validate_file_name(name, allow_relative_path=True)
    key = _s3_key(storage, name)
    storage.bucket.Object(key).upload_file(
        path, ExtraArgs=storage._get_write_parameters(key, content), Config=storage.transfer_config
    )
    return name


def _s3_chunks(storage, name: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
    from botocore.exceptions import ClientError

    request = {"Bucket": storage.bucket_name, "Key": _s3_key(storage, name)}
    if start or end is not None:
        # A ranged GetObject: S3File.read would first download the whole object to a temp file.
        request["Range"] = f"bytes={start}-{'' if end is None else end}"
    try:
        body = storage.connection.meta.client.get_object(**request)["Body"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in {"NoSuchKey", "404"}:
            raise FileNotFoundError(f"No stored file {name!r}") from error
        if code == "InvalidRange":  # start is past the end, as the local backend: nothing
            return iter(())
        raise
    return _body_chunks(body, chunk_size)


def _body_chunks(body, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()
