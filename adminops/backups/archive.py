"""The backup archive: one format for database, files and full backups.

An archive is a POSIX (pax) tar, written and read as a stream, optionally inside age
encryption (adminops/backups/age.py; `age -d backup.tar.age > backup.tar` opens it without
this server). Its first member is `manifest.json`:

    {"format_version": 1, "app_version": "0.1.0", "created_at": "<ISO 8601, UTC>",
     "backup_type": "database" | "files" | "full",
     "database": {"vendor": "sqlite" | "postgresql", "server_version": "…",
                  "native_format": "sqlite3" | "pg_dump-custom" | null,
                  "excluded_tables": ["adminops_backup"]} | null,
     "migrations": {"<app label>": ["0001_initial", …]},        # applied, at the snapshot
     "tables": [{"table": "records_medication", "model": "records.medication", "rows": 12}],
     "members": [{"name": "database/portable.jsonl", "size": 1234, "sha256": "<hex>"}, …],
     "warnings": ["…"]}

then exactly the members the manifest lists, in its order, each a regular file:

- `database/native.sqlite3` (a SQLite database file) or `database/native.pgdump`
  (`pg_dump --format=custom`; absent, with a warning, when pg_dump is not installed);
- `database/portable.jsonl`: for each table, one JSON object
  {"table", "model", "pk", "fields": [attnames], "columns": [db columns]} followed by one JSON
  array per row (values in `fields` order, ordered by primary key). Values are JSON; for each
  field, `field.to_python(value)` gives the Python value back (dates and times ISO 8601,
  decimals and durations as strings, binary as base64, JSON fields as JSON);
- `files/<key>`: the entity files, by their key in files.storage (live and in the trash);
- `media/<name>`: files of FileFields on the default storage (patient photos).

The database members and the file list come from one snapshot (database.py). The list of
backups (adminops_backup) is never inside an archive.

API — writer: `write_backup(backup_type, out_path, *, progress=None, encrypt=None,
keys=None) -> Manifest`; reader: `open_archive(path, *, keys=None) -> ArchiveReader` (a
context manager with `.manifest`, `.encrypted` and `.iter_members()`); `verify(path, *,
keys=None, progress=None) -> VerifyResult`. Every error is an `ArchiveError`.
"""

from adminops.backups.database import NATIVE_POSTGRES, NATIVE_SQLITE, PORTABLE
from adminops.backups.manifest import (
    BACKUP_TYPES,
    FILES_PREFIX,
    FORMAT_VERSION,
    MANIFEST,
    MEDIA_PREFIX,
    ArchiveError,
    ArchiveFormatError,
    ArchiveIntegrityError,
    Manifest,
    MemberEntry,
    check_member_name,
)
from adminops.backups.reader import (
    ArchiveMember,
    ArchiveReader,
    VerifyResult,
    iter_portable,
    open_archive,
    verify,
)
from adminops.backups.writer import write_backup

__all__ = [
    "BACKUP_TYPES",
    "FILES_PREFIX",
    "FORMAT_VERSION",
    "MANIFEST",
    "MEDIA_PREFIX",
    "NATIVE_POSTGRES",
    "NATIVE_SQLITE",
    "PORTABLE",
    "ArchiveError",
    "ArchiveFormatError",
    "ArchiveIntegrityError",
    "ArchiveMember",
    "ArchiveReader",
    "Manifest",
    "MemberEntry",
    "VerifyResult",
    "check_member_name",
    "iter_portable",
    "open_archive",
    "verify",
    "write_backup",
]
