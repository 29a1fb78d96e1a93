"""Writing a backup archive (the format is described in archive.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from adminops.backups import age
from adminops.backups.database import EXCLUDED_TABLES, DatabaseDumpError, dump_database
from adminops.backups.manifest import (
    BACKUP_TYPES,
    CHUNK,
    FILES_PREFIX,
    FORMAT_VERSION,
    MANIFEST,
    MEDIA_PREFIX,
    ArchiveError,
    ArchiveIntegrityError,
    Manifest,
    MemberEntry,
    Progress,
)

# --- writing --------------------------------------------------------------------------------


@dataclass
class _Source:
    """A member to write: its bytes come from `open()` as an iterator of chunks."""

    name: str
    size: int
    sha256: str
    open: Callable[[], Iterable[bytes]]
    label: str = ""


class _ChunkReader:
    """A file-like read(n) over chunks that checks, once drained, the size and SHA-256."""

    def __init__(self, source: _Source):
        self.source = source
        try:
            self._chunks = iter(source.open())
        except FileNotFoundError as exc:
            raise ArchiveError(f"{source.label or source.name} is missing from storage") from exc
        self._buffer = bytearray()
        self._digest = hashlib.sha256()
        self._seen = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                chunk = next(self._chunks, None)
            except FileNotFoundError as exc:
                raise ArchiveError(f"{self.source.label or self.source.name} is missing") from exc
            if chunk is None:
                break
            self._digest.update(chunk)
            self._seen += len(chunk)
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def finish(self) -> None:
        self.read()  # whatever is left: a file that grew is caught here
        if self._seen != self.source.size or self._digest.hexdigest() != self.source.sha256:
            raise ArchiveIntegrityError(
                f"{self.source.label or self.source.name} changed or is damaged in storage: "
                f"{self._seen} bytes, expected {self.source.size} with the SHA-256 recorded "
                "when it was stored. Run the file storage check; the backup stopped."
            )
        close = getattr(self._chunks, "close", None)
        if close:
            close()


class _Output:
    """The file below tar: offsets for tell(), and the SHA-256 of what reaches the disk."""

    def __init__(self, handle, keys: age.AgeKeys | None):
        self._handle = handle
        self.digest = hashlib.sha256()
        self.size = 0
        self._offset = 0
        self._encryptor = age.EncryptingWriter(_DigestingFile(self), keys) if keys else None

    def _raw_write(self, data) -> None:
        self.digest.update(data)
        self.size += len(data)
        self._handle.write(data)

    def write(self, data) -> int:
        self._offset += len(data)
        if self._encryptor is not None:
            self._encryptor.write(data)
        else:
            self._raw_write(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def close(self) -> None:
        if self._encryptor is not None:
            self._encryptor.close()

    def abort(self) -> None:
        if self._encryptor is not None:
            self._encryptor.abort()


class _DigestingFile:
    def __init__(self, output: _Output):
        self._output = output

    def write(self, data) -> int:
        self._output._raw_write(data)
        return len(data)

    def flush(self) -> None:
        pass


def _tar_info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    info.type = tarfile.REGTYPE
    return info


def _storage_sources(snapshot_files: list[tuple]) -> list[_Source]:
    from files import storage

    return [
        _Source(
            name=FILES_PREFIX + key,
            size=size,
            sha256=digest,
            open=lambda key=key: storage.stream(key, chunk_size=CHUNK),
            label=f"Stored file {key!r} (entity file {file_id})",
        )
        for file_id, key, size, digest in snapshot_files
    ]


def _media_sources(names: list[str]) -> list[_Source]:
    """Files of FileFields on the default storage: no checksum is recorded for them, so each
    is hashed first (they are small: photos)."""
    from django.core.files.storage import default_storage

    def chunks(name):
        with default_storage.open(name, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    sources = []
    for name in names:
        digest, size = hashlib.sha256(), 0
        for chunk in chunks(name):
            digest.update(chunk)
            size += len(chunk)
        sources.append(
            _Source(
                MEDIA_PREFIX + name,
                size,
                digest.hexdigest(),
                lambda name=name: chunks(name),
                f"Media file {name!r}",
            )
        )
    return sources


def _list_files(warnings: list[str]) -> tuple[list[tuple], list[str]]:
    """Entity files and default-storage media named by rows, at the snapshot; rows whose bytes
    are missing are left out with a warning."""
    from django.apps import apps
    from django.core.files.storage import default_storage
    from django.db import models

    from files import storage
    from files.models import EntityFile, StorageBackend

    present = set(storage.all_names())
    entity_files = []
    rows = (
        EntityFile.objects.filter(storage_backend=StorageBackend.LOCAL)
        .order_by("id")
        .values_list("id", "stored_name", "file_size", "sha256")
    )
    for file_id, key, size, digest in rows.iterator(chunk_size=5000):
        if key not in present:
            warnings.append(f"entity file {file_id}: {key!r} is missing from storage")
        elif not re.fullmatch(r"[0-9a-f]{64}", digest or ""):
            warnings.append(f"entity file {file_id}: no checksum recorded, left out")
        else:
            entity_files.append((file_id, key, size, digest))
    media = set()
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, models.FileField) and model_field.storage is default_storage:
                names = model._base_manager.exclude(**{model_field.attname: ""})
                for name in names.values_list(model_field.attname, flat=True).iterator():
                    if name and default_storage.exists(name):
                        media.add(name)
                    elif name:
                        warnings.append(f"{model._meta.label}: media file {name!r} is missing")
    return entity_files, sorted(media)


def write_backup(
    backup_type: str,
    out_path,
    *,
    progress: Progress | None = None,
    encrypt: bool | None = None,
    keys: age.AgeKeys | None = None,
) -> Manifest:
    """Writes a backup archive to `out_path` (atomically: `<out_path>.partial`, then renamed).

    `encrypt` None follows settings.BACKUP_ENCRYPT; keys default to the settings' age keys.
    The returned manifest carries `.archive` = {size, sha256, encrypted} of the file written.
    """
    from django.conf import settings

    import medikeep

    if backup_type not in BACKUP_TYPES:
        raise ArchiveError(f"backup_type must be one of {', '.join(BACKUP_TYPES)}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    encrypt = settings.BACKUP_ENCRYPT if encrypt is None else encrypt
    keys = keys or age.AgeKeys.from_settings()
    if encrypt and not keys.can_encrypt:
        raise ArchiveError(
            "Encryption was asked for, but neither BACKUP_AGE_RECIPIENTS nor "
            "BACKUP_AGE_PASSPHRASE is set."
        )
    if encrypt:
        try:
            age.check_encryption_keys(keys)
        except age.AgeError as exc:
            raise ArchiveError(str(exc)) from exc
    report = progress or (lambda done, total, label: None)
    created = timezone.now()
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".staging-") as staging:
        sources: list[_Source] = []
        database = None
        files_listed: tuple[list, list] = ([], [])
        want_files = backup_type in ("files", "full")
        report(0, None, "database snapshot" if backup_type != "files" else "listing files")
        if backup_type in ("database", "full"):
            try:
                dump, listed = dump_database(
                    Path(staging),
                    while_consistent=(lambda: _list_files(warnings)) if want_files else None,
                )
            except DatabaseDumpError as exc:
                raise ArchiveError(str(exc)) from exc
            warnings.extend(dump.warnings)
            files_listed = listed or files_listed
            database = {
                "vendor": dump.vendor,
                "server_version": dump.server_version,
                "native_format": dump.native_format,
                "excluded_tables": list(EXCLUDED_TABLES),
            }
            for staged in dump.members:
                sources.append(
                    _Source(
                        staged.name,
                        staged.size,
                        staged.sha256,
                        lambda path=staged.path: _file_chunks(path),
                    )
                )
            tables, migrations = dump.tables, dump.migrations
        else:
            from adminops.backups.database import applied_migrations

            files_listed = _list_files(warnings)
            tables, migrations = [], applied_migrations()
        if want_files:
            sources += _storage_sources(files_listed[0]) + _media_sources(files_listed[1])
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            app_version=medikeep.VERSION,
            created_at=created.isoformat().replace("+00:00", "Z"),
            backup_type=backup_type,
            database=database,
            migrations=migrations,
            tables=tables,
            members=[MemberEntry(s.name, s.size, s.sha256) for s in sources],
            warnings=warnings,
        )
        total = sum(s.size for s in sources)
        partial = out_path.with_name(out_path.name + ".partial")
        try:
            with open(partial, "wb") as handle:
                output = _Output(handle, keys if encrypt else None)
                try:
                    _write_tar(output, manifest, sources, created.timestamp(), total, report)
                    output.close()
                except BaseException:
                    output.abort()
                    raise
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, out_path)
        except age.AgeError as exc:
            partial.unlink(missing_ok=True)
            raise ArchiveError(str(exc)) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _fsync_dir(out_path.parent)
    manifest.archive = {
        "size": output.size,
        "sha256": output.digest.hexdigest(),
        "encrypted": bool(encrypt),
    }
    report(total, total, "done")
    return manifest


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _write_tar(output, manifest, sources, mtime, total, report) -> None:
    raw_manifest = json.dumps(manifest.to_dict(), indent=1, sort_keys=False).encode()
    # Mode "w" writes straight to the file object (the stream mode's buffer copies every
    # write); `members` is emptied as it goes so a 100,000-file archive holds no list.
    with tarfile.open(
        fileobj=output, mode="w", format=tarfile.PAX_FORMAT, copybufsize=CHUNK
    ) as tar:
        tar.addfile(_tar_info(MANIFEST, len(raw_manifest), mtime), _BytesReader(raw_manifest))
        done = 0
        for source in sources:
            reader = _ChunkReader(source)
            report(done, total, source.name)
            tar.addfile(_tar_info(source.name, source.size, mtime), reader)
            reader.finish()
            tar.members.clear()
            done += source.size
        report(done, total, "finishing")


class _BytesReader:
    def __init__(self, data: bytes):
        self._data = memoryview(data)

    def read(self, size: int = -1) -> bytes:
        size = len(self._data) if size < 0 else size
        chunk, self._data = self._data[:size], self._data[size:]
        return bytes(chunk)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
