"""Reading and verifying a backup archive (the format is described in archive.py)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from adminops.backups import age
from adminops.backups.database import NATIVE_SQLITE, PORTABLE
from adminops.backups.manifest import (
    CHUNK,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    ArchiveError,
    ArchiveFormatError,
    ArchiveIntegrityError,
    Manifest,
    MemberEntry,
    Progress,
    check_member_name,
)

# --- reading --------------------------------------------------------------------------------


class ArchiveMember:
    """One member while the archive streams past: read it once, with `chunks()` or
    `copy_to()`; the size and SHA-256 are checked as the last bytes are read (an
    ArchiveIntegrityError then), so use what was read only after the read completed."""

    def __init__(self, entry: MemberEntry, handle):
        self.entry = entry
        self.name, self.size, self.sha256 = entry.name, entry.size, entry.sha256
        self.kind, self.storage_key = entry.kind, entry.storage_key
        self._handle = handle
        self._started = False
        self._finished = False

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        if self._started:
            raise ArchiveError(f"{self.name} was already read")
        self._started = True
        digest, seen = hashlib.sha256(), 0
        while chunk := self._read(chunk_size):
            digest.update(chunk)
            seen += len(chunk)
            if seen > self.size:
                break
            yield chunk
        if seen != self.size or digest.hexdigest() != self.sha256:
            raise ArchiveIntegrityError(
                f"{self.name}: the bytes do not match the manifest's size and SHA-256"
            )
        self._finished = True

    def _read(self, size: int) -> bytes:
        try:
            return self._handle.read(size)
        except tarfile.TarError as exc:
            raise ArchiveIntegrityError(f"{self.name}: the archive is cut short ({exc})") from exc
        except age.AgeError as exc:
            raise ArchiveIntegrityError(f"{self.name}: {exc}") from exc

    def copy_to(self, handle) -> None:
        for chunk in self.chunks():
            handle.write(chunk)

    def _drain(self) -> None:
        if not self._started:
            for _ in self.chunks():
                pass
        elif not self._finished:
            raise ArchiveError(f"{self.name} was not read to its end")


class ArchiveReader:
    """An archive opened for one pass (see open_archive)."""

    def __init__(self, path, *, keys: age.AgeKeys | None = None):
        self.path = Path(path)
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._plain = None
        try:
            self.encrypted = self._file.read(len(age.MAGIC)) == age.MAGIC
            self._file.seek(0)
            if self.encrypted:
                self._plain = age.DecryptingReader(self._file, keys or age.AgeKeys.from_settings())
            try:
                self._tar = tarfile.open(  # noqa: SIM115 - closed by close()
                    fileobj=self._plain or self._file, mode="r|", bufsize=CHUNK
                )
            except tarfile.TarError as exc:
                raise ArchiveFormatError(f"not a readable tar archive: {exc}") from exc
            first = self._next_info()
            if first is None or first.name != MANIFEST:
                raise ArchiveFormatError("the archive does not start with manifest.json")
            if first.size > MAX_MANIFEST_BYTES:
                raise ArchiveFormatError("manifest.json is too large")
            self.manifest = Manifest.from_json(self._tar.extractfile(first).read())
        except age.AgeError as exc:
            self.close()
            raise ArchiveError(str(exc)) from exc
        except BaseException:
            self.close()
            raise
        self._iterated = False

    def _next_info(self) -> tarfile.TarInfo | None:
        try:
            info = self._tar.next()
        except tarfile.TarError as exc:
            raise ArchiveFormatError(f"not a readable tar archive: {exc}") from exc
        except age.AgeError as exc:
            raise ArchiveError(str(exc)) from exc
        self._tar.members.clear()
        if info is None:
            return None
        check_member_name(info.name)
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            raise ArchiveFormatError(
                f"{info.name!r} is not a regular file (links, devices, "
                "folders and sparse files are refused)"
            )
        return info

    def iter_members(self) -> Iterator[ArchiveMember]:
        """The members after the manifest, in order; each is checked against the manifest
        (listed once, same size; bytes checked as read). A member left unread is read and
        checked before the next one; members the manifest lists but the archive lacks raise
        ArchiveIntegrityError at the end."""
        if self._iterated:
            raise ArchiveError("an archive is read once; open it again")
        self._iterated = True
        expected = {entry.name: entry for entry in self.manifest.members}
        seen: set[str] = set()
        try:
            while (info := self._next_info()) is not None:
                entry = expected.get(info.name)
                if entry is None or info.name in seen:
                    raise ArchiveFormatError(
                        f"{info.name!r} is not in the manifest"
                        if entry is None
                        else f"{info.name!r} appears twice"
                    )
                if info.size != entry.size:
                    raise ArchiveIntegrityError(
                        f"{info.name}: {info.size} bytes, the manifest says {entry.size}"
                    )
                seen.add(info.name)
                member = ArchiveMember(entry, self._tar.extractfile(info))
                yield member
                member._drain()
        except age.AgeError as exc:
            raise ArchiveError(str(exc)) from exc
        missing = [name for name in expected if name not in seen]
        if missing:
            raise ArchiveIntegrityError(
                f"{len(missing)} member(s) of the manifest are missing, e.g. {missing[0]!r}"
            )

    def close(self) -> None:
        tar = getattr(self, "_tar", None)
        if tar is not None:
            tar.close()
        if self._plain is not None:
            with contextlib.suppress(age.AgeError):
                self._plain.close()
        self._file.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_archive(path, *, keys: age.AgeKeys | None = None) -> ArchiveReader:
    """Opens an archive (plain or age-encrypted) and reads its manifest; raises ArchiveError
    when it is not one. Use as a context manager; `iter_members()` streams the rest."""
    return ArchiveReader(path, keys=keys)


# --- verifying ------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    encrypted: bool = False
    members_checked: int = 0
    bytes_checked: int = 0
    checks: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "errors": self.errors,
            "warnings": self.warnings,
            "encrypted": self.encrypted,
            "members_checked": self.members_checked,
            "bytes_checked": self.bytes_checked,
            "checks": self.checks,
            "manifest": self.manifest.summary() if self.manifest else None,
        }


def verify(
    path, *, keys: age.AgeKeys | None = None, progress: Progress | None = None
) -> VerifyResult:
    """Reads the whole archive: every member's size and SHA-256 against the manifest, the
    portable dump's lines and row counts, and the native dump opened by its own tool
    (`PRAGMA integrity_check` on a copy / `pg_restore --list`)."""
    result = VerifyResult(valid=False)
    report = progress or (lambda done, total, label: None)
    path = Path(path)
    if not path.is_file():
        result.errors.append(f"{path.name} does not exist")
        return result
    scratch_parent = path.parent if os.access(path.parent, os.W_OK) else None
    try:
        with open_archive(path, keys=keys) as archive:
            result.manifest = archive.manifest
            result.encrypted = archive.encrypted
            result.warnings.extend(archive.manifest.warnings)
            total = sum(m.size for m in archive.manifest.members)
            with tempfile.TemporaryDirectory(dir=scratch_parent, prefix=".verify-") as scratch:
                for member in archive.iter_members():
                    report(result.bytes_checked, total, member.name)
                    if member.kind == "native-database":
                        target = Path(scratch) / member.name.rsplit("/", 1)[-1]
                        with open(target, "wb") as handle:
                            member.copy_to(handle)
                        result.checks["native"] = _check_native(member.name, target, result)
                        target.unlink()
                    elif member.kind == "portable-database":
                        result.checks["portable"] = _check_portable(
                            member, archive.manifest, result
                        )
                    else:
                        for _ in member.chunks():
                            pass
                    result.members_checked += 1
                    result.bytes_checked += member.size
    except ArchiveError as exc:
        result.errors.append(str(exc))
    except OSError as exc:
        result.errors.append(f"could not read the archive: {exc}")
    result.valid = not result.errors
    report(result.bytes_checked, result.bytes_checked, "done")
    return result


def _check_native(name: str, path: Path, result: VerifyResult) -> str:
    import shutil
    import subprocess

    if name == NATIVE_SQLITE:
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                rows = connection.execute("PRAGMA integrity_check").fetchall()
            finally:
                connection.close()
        except sqlite3.DatabaseError as exc:
            result.errors.append(f"{name}: not a SQLite database ({exc})")
            return "failed"
        if rows != [("ok",)]:
            result.errors.append(f"{name}: integrity_check: {rows[0][0] if rows else 'no answer'}")
            return "failed"
        return "ok (PRAGMA integrity_check)"
    program = shutil.which("pg_restore")
    if program is None:
        result.warnings.append(f"{name}: not opened, pg_restore is not installed here")
        return "not checked"
    run = subprocess.run([program, "--list", str(path)], capture_output=True, check=False)
    if run.returncode != 0:
        message = run.stderr.decode("utf-8", "replace").strip()
        result.errors.append(f"{name}: pg_restore --list failed: {message[-300:]}")
        return "failed"
    return "ok (pg_restore --list)"


def iter_portable(chunks: Iterable[bytes]) -> Iterator[tuple[dict, list]]:
    """(table header, row values) for each row of a portable dump; tables without rows
    yield their header with `None` as row, so every table is seen."""
    header, pending_header = None, False
    for line in _lines(chunks):
        value = json.loads(line)
        if isinstance(value, dict):
            if pending_header:
                yield header, None
            if not isinstance(value.get("table"), str) or not isinstance(value.get("fields"), list):
                raise ArchiveFormatError("portable dump: a table line lacks table or fields")
            header, pending_header = value, True
        elif isinstance(value, list) and header is not None:
            if len(value) != len(header["fields"]):
                raise ArchiveFormatError(
                    f"portable dump: a row of {header['table']} has {len(value)} values for "
                    f"{len(header['fields'])} fields"
                )
            pending_header = False
            yield header, value
        else:
            raise ArchiveFormatError("portable dump: unexpected line")
    if pending_header:
        yield header, None


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        rest += chunk
        *lines, rest = rest.split(b"\n")
        yield from (line for line in lines if line)
    if rest:
        yield rest


def _check_portable(member: ArchiveMember, manifest: Manifest, result: VerifyResult) -> str:
    chunks = member.chunks()
    counts: dict[str, int] = {}
    try:
        for header, row in iter_portable(chunks):
            counts.setdefault(header["table"], 0)
            if row is not None:
                counts[header["table"]] += 1
    except (ValueError, ArchiveFormatError) as exc:  # a line that is not JSON, or not ours
        result.errors.append(f"{PORTABLE}: {exc}")
        for _ in chunks:  # read on: a changed checksum is reported too
            pass
        return "failed"
    expected = manifest.table_counts
    if counts != expected:
        differing = sorted(
            t for t in set(counts) | set(expected) if counts.get(t) != expected.get(t)
        )
        result.errors.append(
            f"{PORTABLE}: row counts differ from the manifest for {', '.join(differing[:5])}"
        )
        return "failed"
    return f"ok ({sum(counts.values())} rows in {len(counts)} tables)"
