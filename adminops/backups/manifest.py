"""The archive's manifest, its member names and the errors of the archive format
(described in archive.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from adminops.backups.database import NATIVE_POSTGRES, NATIVE_SQLITE, PORTABLE

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES_PREFIX = "files/"
MEDIA_PREFIX = "media/"
BACKUP_TYPES = ("database", "files", "full")
CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_NAME_LENGTH = 1024
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")

Progress = Callable[[int, int | None, str], None]


class ArchiveError(Exception):
    """Base of every refusal to write or read an archive; the message is for operators."""


class ArchiveFormatError(ArchiveError):
    """Not an archive of this format: bad manifest, member name or member type."""


class ArchiveIntegrityError(ArchiveError):
    """A member's bytes differ from the manifest (size, SHA-256), or a member is missing."""


# --- the manifest ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberEntry:
    name: str
    size: int
    sha256: str

    @property
    def kind(self) -> str:
        """native-database, portable-database, file (files.storage) or media (default)."""
        if self.name in (NATIVE_SQLITE, NATIVE_POSTGRES):
            return "native-database"
        if self.name == PORTABLE:
            return "portable-database"
        return "file" if self.name.startswith(FILES_PREFIX) else "media"

    @property
    def storage_key(self) -> str | None:
        """The name in its storage, for file and media members."""
        for prefix in (FILES_PREFIX, MEDIA_PREFIX):
            if self.name.startswith(prefix):
                return self.name[len(prefix) :]
        return None


@dataclass
class Manifest:
    format_version: int
    app_version: str
    created_at: str
    backup_type: str
    database: dict | None
    migrations: dict[str, list[str]]
    tables: list[dict]
    members: list[MemberEntry]
    warnings: list[str] = field(default_factory=list)
    # Set by write_backup only, never stored inside the archive (it would have to contain its
    # own checksum): {"size", "sha256", "encrypted"} of the file as written.
    archive: dict | None = field(default=None, compare=False)

    @property
    def table_counts(self) -> dict[str, int]:
        return {table["table"]: table["rows"] for table in self.tables}

    @property
    def native_member(self) -> MemberEntry | None:
        return next((m for m in self.members if m.kind == "native-database"), None)

    def member(self, name: str) -> MemberEntry | None:
        return next((m for m in self.members if m.name == name), None)

    def to_dict(self) -> dict:
        return {
            "format_version": self.format_version,
            "app_version": self.app_version,
            "created_at": self.created_at,
            "backup_type": self.backup_type,
            "database": self.database,
            "migrations": self.migrations,
            "tables": self.tables,
            "members": [{"name": m.name, "size": m.size, "sha256": m.sha256} for m in self.members],
            "warnings": self.warnings,
        }

    def summary(self) -> dict:
        """The manifest without its member list, plus counts (kept on the Backup row)."""
        data = self.to_dict()
        data.pop("members")
        data["member_count"] = len(self.members)
        data["file_count"] = sum(1 for m in self.members if m.kind in ("file", "media"))
        data["files_bytes"] = sum(m.size for m in self.members if m.kind in ("file", "media"))
        return data

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArchiveFormatError(f"manifest.json is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ArchiveFormatError("manifest.json is not a JSON object")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ArchiveFormatError(
                f"archive format version {version!r} is not supported (this server reads "
                f"version {FORMAT_VERSION})"
            )
        if data.get("backup_type") not in BACKUP_TYPES:
            raise ArchiveFormatError(f"unknown backup_type {data.get('backup_type')!r}")
        members, names = [], set()
        for item in data.get("members") or []:
            if not isinstance(item, dict):
                raise ArchiveFormatError("manifest members must be objects")
            name, size, digest = item.get("name"), item.get("size"), item.get("sha256")
            check_member_name(name)
            if name in names:
                raise ArchiveFormatError(f"manifest lists {name!r} twice")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ArchiveFormatError(f"manifest: bad size for {name!r}")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ArchiveFormatError(f"manifest: bad sha256 for {name!r}")
            names.add(name)
            members.append(MemberEntry(name, size, digest))
        tables = data.get("tables") or []
        if not isinstance(tables, list) or not all(
            isinstance(t, dict)
            and isinstance(t.get("table"), str)
            and isinstance(t.get("rows"), int)
            for t in tables
        ):
            raise ArchiveFormatError("manifest: tables must be [{table, model, rows}]")
        return cls(
            format_version=version,
            app_version=str(data.get("app_version") or ""),
            created_at=str(data.get("created_at") or ""),
            backup_type=data["backup_type"],
            database=data.get("database") if isinstance(data.get("database"), dict) else None,
            migrations=data.get("migrations") if isinstance(data.get("migrations"), dict) else {},
            tables=tables,
            members=members,
            warnings=[str(w) for w in data.get("warnings") or []],
        )


def check_member_name(name) -> str:
    """Refuses names that could escape a folder or that this format never writes."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
        raise ArchiveFormatError(f"bad member name {name!r}")
    path = PurePosixPath(name)
    if (
        name.startswith("/")
        or _NAME_FORBIDDEN.search(name)
        or re.match(r"^[A-Za-z]:", name)
        or any(part in ("", ".", "..") for part in name.split("/"))
        or path.is_absolute()
    ):
        raise ArchiveFormatError(f"unsafe member name {name!r}")
    if name not in (MANIFEST, NATIVE_SQLITE, NATIVE_POSTGRES, PORTABLE) and not (
        name.startswith(FILES_PREFIX) or name.startswith(MEDIA_PREFIX)
    ):
        raise ArchiveFormatError(f"unexpected member {name!r}")
    return name
