"""The files of a restore: written beside what is stored, never over it, until the database
commits (restore.py decides when).

Storage keys are random and a stored file is never rewritten, so a key present with the same
bytes is kept as it is, and a missing key is written as a new file; neither touches a file the
current rows use. When a key is present with other bytes (damage, or a foreign archive), a full
restore writes the backup's bytes under a new key and points the restored row at it, inside the
restore's transaction. The old files the restored rows no longer name are deleted only after
the commit (purge_unreferenced); a failure before it deletes just the files this restore wrote
(discard), and a process killed midway leaves at most unreferenced new files behind.

A files-only restore has no database to switch: it writes the missing files the current rows
name and replaces, each atomically, entity files whose bytes no longer match the SHA-256 their
row recorded, from a backup holding exactly those bytes. Other files are left alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.utils import validate_file_name

from adminops.backups.manifest import CHUNK, ArchiveFormatError

logger = logging.getLogger("adminops.backups")

FILE, MEDIA = "file", "media"


def _storage(kind: str):
    from files import storage

    return storage.file_storage() if kind == FILE else default_storage


def media_fields() -> list[tuple]:
    """(model, field) of every FileField on the default storage (patient photos)."""
    from django.apps import apps
    from django.db import models

    return [
        (model, f)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, models.FileField) and f.storage is default_storage
    ]


def referenced_keys() -> dict[str, dict[str, str | None]]:
    """The keys the database's rows name, per kind: entity files (with the SHA-256 their row
    recorded) and media names. Read through the current connection, so inside a restore's
    transaction it sees the restored rows."""
    from files.models import EntityFile, StorageBackend

    entity_files = EntityFile._base_manager.filter(storage_backend=StorageBackend.LOCAL)
    files = dict(entity_files.values_list("stored_name", "sha256").iterator(chunk_size=5000))
    media: dict[str, str | None] = {}
    for model, f in media_fields():
        names = model._base_manager.exclude(**{f.attname: ""}).exclude(**{f.attname: None})
        for name in names.values_list(f.attname, flat=True).iterator(chunk_size=5000):
            media[name] = None
    return {FILE: files, MEDIA: media}


def missing_keys(references: dict[str, dict]) -> int:
    """How many named keys have no bytes in their storage."""
    from files import storage

    present = set(storage.all_names())
    missing = sum(1 for key in references[FILE] if key not in present)
    media = _storage(MEDIA)
    missing += sum(1 for key in references[MEDIA] if not media.exists(key))
    return missing


def _check_key(key: str) -> str:
    try:
        validate_file_name(key, allow_relative_path=True)
    except SuspiciousFileOperation as exc:
        raise ArchiveFormatError(f"unsafe file name in the backup: {key!r}") from exc
    if PurePosixPath(key).is_absolute() or any(p in ("", ".", "..") for p in key.split("/")):
        raise ArchiveFormatError(f"unsafe file name in the backup: {key!r}")
    return key


def _local_path(storage, key: str) -> Path:
    try:
        path = Path(storage.path(key))  # safe_join: refuses names leaving the root
    except SuspiciousFileOperation as exc:
        raise ArchiveFormatError(f"unsafe file name in the backup: {key!r}") from exc
    root = Path(storage.location).resolve()
    if not path.resolve().is_relative_to(root):
        raise ArchiveFormatError(f"unsafe file name in the backup: {key!r}")
    return path


def _hash_stream(chunks) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


@dataclass
class FileRestorer:
    """Restores the file members of one archive. `references` are the keys the rows that will
    be live name (the restored rows in a full restore, the current ones in a files restore)."""

    mode: str  # "full" or "files"
    references: dict[str, dict[str, str | None]]
    run: str = field(default_factory=lambda: secrets.token_hex(6))
    created: list[tuple[str, str]] = field(default_factory=list)
    renamed: dict[tuple[str, str], str] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: {"written": 0, "unchanged": 0, "repaired": 0, "skipped": 0}
    )
    warnings: list[str] = field(default_factory=list)

    def restore(self, member) -> None:
        """One file or media member (read to its end, so its checksum is checked)."""
        kind, key = member.kind, _check_key(member.storage_key or "")
        names = self.references[kind]
        if key not in names:
            self.counts["skipped"] += 1  # no row names it: it would only be an orphan
            return
        storage = _storage(kind)
        local = isinstance(storage, FileSystemStorage)
        if not (_local_path(storage, key).is_file() if local else storage.exists(key)):
            self._write_new(storage, kind, key, member)
            self.counts["written"] += 1
            return
        if self._same_bytes(storage, key, member.size, member.sha256):
            self.counts["unchanged"] += 1
            return
        if self.mode == "full":
            new_key = self._free_key(storage, key)
            self._write_new(storage, kind, new_key, member)
            self.renamed[(kind, key)] = new_key
            self.counts["written"] += 1
        elif kind == FILE and names[key] == member.sha256:
            self._replace(storage, key, member)
            self.counts["repaired"] += 1
        else:
            self.warnings.append(
                f"{key}: the stored file differs from the backup's and its record does not "
                "say which is right; left as it is."
            )

    def _same_bytes(self, storage, key: str, size: int, sha256: str) -> bool:
        from files import storage as file_storage

        if storage.size(key) != size:
            return False
        if isinstance(storage, FileSystemStorage):
            with open(_local_path(storage, key), "rb") as handle:
                return _hash_stream(iter(lambda: handle.read(CHUNK), b"")) == (size, sha256)
        if storage is file_storage.file_storage():
            return _hash_stream(file_storage.stream(key, chunk_size=CHUNK)) == (size, sha256)
        with storage.open(key, "rb") as handle:
            return _hash_stream(iter(lambda: handle.read(CHUNK), b"")) == (size, sha256)

    def _free_key(self, storage, key: str) -> str:
        path = PurePosixPath(key)
        suffix = "".join(path.suffixes[-1:])
        stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
        while True:
            name = f"{stem}.restored-{secrets.token_hex(4)}{suffix}"
            candidate = str(path.with_name(name))
            if not storage.exists(candidate):
                return candidate

    def _spool(self, member, directory: Path | None = None):
        """The member's bytes in a temporary file, checked (chunks() raises on a mismatch)."""
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the caller closes it
            dir=directory, prefix=f".restoring-{self.run}-", delete=False
        )
        try:
            for chunk in member.chunks():
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
        return handle

    def _write_new(self, storage, kind: str, key: str, member) -> None:
        """Writes a key that does not exist yet; the bytes reach their name only once read
        in full and checked."""
        if isinstance(storage, FileSystemStorage):
            target = _local_path(storage, key)
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = self._spool(member, target.parent)
            try:
                handle.close()
                if storage.file_permissions_mode is not None:
                    os.chmod(handle.name, storage.file_permissions_mode)
                os.link(handle.name, target)  # fails rather than replace a file
            finally:
                os.unlink(handle.name)
        else:
            from adminops.backups.services import backup_dir

            handle = self._spool(member, backup_dir())
            try:
                handle.seek(0)
                stored = storage.save(key, File(handle, name=key))
            finally:
                handle.close()
                os.unlink(handle.name)
            if stored != key:
                storage.delete(stored)
                raise ArchiveFormatError(f"{key}: the storage would not keep this name")
        self.created.append((kind, key))

    def _replace(self, storage, key: str, member) -> None:
        """Files restore only: puts the backup's bytes over a damaged file, atomically."""
        if isinstance(storage, FileSystemStorage):
            target = _local_path(storage, key)
            handle = self._spool(member, target.parent)
            handle.close()
            if storage.file_permissions_mode is not None:
                os.chmod(handle.name, storage.file_permissions_mode)
            os.replace(handle.name, target)
            return
        from adminops.backups.services import backup_dir

        handle = self._spool(member, backup_dir())
        try:
            handle.seek(0)
            storage.delete(key)
            stored = storage.save(key, File(handle, name=key))
        finally:
            handle.close()
            os.unlink(handle.name)
        if stored != key:
            raise ArchiveFormatError(f"{key}: the storage would not keep this name")

    def point_rows_at_renamed(self) -> None:
        """Full restore, inside the transaction: rows of keys written under a new name."""
        from files.models import EntityFile

        for (kind, key), new_key in self.renamed.items():
            if kind == FILE:
                EntityFile._base_manager.filter(stored_name=key).update(stored_name=new_key)
            else:
                for model, f in media_fields():
                    model._base_manager.filter(**{f.attname: key}).update(**{f.attname: new_key})

    def discard(self) -> None:
        """After a failure: removes the files this restore wrote (no row names them)."""
        for kind, key in reversed(self.created):
            try:
                _storage(kind).delete(key)
            except Exception:  # leave it: an unnamed file harms nothing
                logger.warning("restore: could not remove %s after the failure", key)
        self.created.clear()


def sweep_scratch() -> int:
    """Removes the `.restoring-*` files a killed restore left behind (each is a member being
    spooled; no row names it). Run under the restore lock, so none is in use."""
    from adminops.backups.services import backup_dir

    roots = [backup_dir()]
    for kind in (FILE, MEDIA):
        storage = _storage(kind)
        if isinstance(storage, FileSystemStorage) and Path(storage.location).is_dir():
            roots.append(Path(storage.location))
    removed = 0
    for root in dict.fromkeys(roots):
        for directory, _subdirectories, names in os.walk(root):
            for name in names:
                if name.startswith(".restoring-"):
                    Path(directory, name).unlink(missing_ok=True)
                    removed += 1
    return removed


def space_needed(manifest) -> str | None:
    """A warning when the backup's files may not fit where files are stored."""
    import shutil

    needed = sum(m.size for m in manifest.members if m.kind in (FILE, MEDIA))
    storage = _storage(FILE)
    if not needed or not isinstance(storage, FileSystemStorage):
        return None
    place = Path(storage.location)
    while not place.exists() and place != place.parent:
        place = place.parent
    free = shutil.disk_usage(place).free
    if needed <= free:
        return None
    return (
        f"The backup's files take {needed / 1024**3:.1f} GB and {free / 1024**3:.1f} GB are "
        "free where files are stored: the restore fails (changing nothing) unless most of "
        "them are already there."
    )


def purge_unreferenced(before: dict[str, dict], after: dict[str, dict]) -> int:
    """After a full restore committed: deletes the files only the replaced rows named."""
    deleted = 0
    for kind in (FILE, MEDIA):
        storage = _storage(kind)
        for key in sorted(set(before[kind]) - set(after[kind])):
            try:
                storage.delete(key)
                deleted += 1
            except Exception as exc:
                logger.warning("restore: could not delete the replaced file %s: %s", key, exc)
    return deleted
