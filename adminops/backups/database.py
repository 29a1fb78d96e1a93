"""The database part of a backup: one consistent snapshot, dumped twice.

- native: the database's own format, for a fast restore into the same vendor —
  `pg_dump --format=custom` on PostgreSQL, the SQLite online backup API on SQLite;
- portable: every model's rows as JSON lines (the format is described in archive.py), which
  restores into either vendor (a family moving from SQLite to PostgreSQL).

Both, the table counts, the migration state and the list of files to back up are read from one
snapshot: a REPEATABLE READ transaction whose snapshot pg_dump shares (`--snapshot`) on
PostgreSQL, one read transaction of the same connection on SQLite (WAL lets writers go on).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import orjson
from django.apps import apps
from django.db import connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder

NATIVE_SQLITE = "database/native.sqlite3"
NATIVE_POSTGRES = "database/native.pgdump"
PORTABLE = "database/portable.jsonl"
# The list of backups is not part of a backup: a restore keeps the backups made since. Nor
# are the restore confirmations (adminops/backups/restore.py): they are only ever for now.
EXCLUDED_TABLES = ("adminops_backup", "adminops_restoretoken")
ROWS_PER_FETCH = 2000
HASH_CHUNK = 1024 * 1024


class DatabaseDumpError(Exception):
    """The database could not be dumped (the message says why, for the operator)."""


@dataclass
class StagedMember:
    """A member written to the staging folder before the archive: its bytes are known."""

    name: str
    path: Path
    size: int
    sha256: str


@dataclass
class DatabaseDump:
    vendor: str
    server_version: str
    native_format: str | None
    members: list[StagedMember] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)
    migrations: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def dump_models() -> list[type[models.Model]]:
    """Every table Django manages (many-to-many tables too), parents before children where
    foreign keys allow, so a restore can load them in this order."""
    found: dict[str, type[models.Model]] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.swapped or meta.db_table in EXCLUDED_TABLES:
            continue
        found.setdefault(meta.db_table, model)
    remaining = dict(sorted(found.items()))
    ordered: list[type[models.Model]] = []
    while remaining:
        ready = [
            table
            for table, model in remaining.items()
            if not any(
                f.related_model is not None
                and f.related_model._meta.db_table in remaining
                and f.related_model._meta.db_table != table
                for f in model._meta.concrete_fields
                if f.is_relation
            )
        ]
        # A cycle of foreign keys: take the first table; the loader defers constraints anyway.
        for table in ready or [next(iter(remaining))]:
            ordered.append(remaining.pop(table))
    return ordered


def _portable_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        from django.utils.duration import duration_string

        return duration_string(value)
    if isinstance(value, bytes | memoryview):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def _json_line(value) -> bytes:
    try:
        return orjson.dumps(value, default=_portable_default) + b"\n"
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits (possible inside a JSON field).
        import json

        from django.core.serializers.json import DjangoJSONEncoder

        return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":")).encode() + b"\n"


def write_portable(handle, *, using: str = "default") -> list[dict]:
    """Writes every table's rows as JSON lines to `handle`; returns the table counts."""
    tables = []
    for model in dump_models():
        meta = model._meta
        fields = list(meta.concrete_fields)
        handle.write(
            _json_line(
                {
                    "table": meta.db_table,
                    "model": meta.label_lower,
                    "pk": meta.pk.attname,
                    "fields": [f.attname for f in fields],
                    "columns": [f.column for f in fields],
                }
            )
        )
        rows = 0
        queryset = (
            model._base_manager.using(using)
            .order_by(meta.pk.attname)
            .values_list(*[f.attname for f in fields])
        )
        for row in queryset.iterator(chunk_size=ROWS_PER_FETCH):
            handle.write(_json_line(row))
            rows += 1
        tables.append({"table": meta.db_table, "model": meta.label_lower, "rows": rows})
    return tables


def applied_migrations(*, using: str = "default") -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app_label, name in MigrationRecorder(connections[using]).applied_migrations():
        applied.setdefault(app_label, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


class _HashingFile:
    def __init__(self, handle):
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


def hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


@contextmanager
def consistent_snapshot(*, using: str = "default") -> Iterator[str | None]:
    """Holds one read snapshot for the block; yields PostgreSQL's exported snapshot id."""
    connection = connections[using]
    if connection.in_atomic_block:
        # Inside a caller's transaction the dumps would disagree (pg_dump sees only committed
        # rows; SQLite's backup API waits for ever on the connection's own write lock).
        raise DatabaseDumpError("A backup cannot run inside a database transaction.")
    if connection.vendor == "postgresql":
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            yield cursor.fetchone()[0]
        return
    if connection.vendor != "sqlite":
        raise DatabaseDumpError(f"Backups support PostgreSQL and SQLite, not {connection.vendor}.")
    connection.ensure_connection()
    # Django keeps SQLite in autocommit (isolation_level None): a plain BEGIN opens a deferred
    # read transaction that Django's atomic() would have made IMMEDIATE, blocking writers.
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
    try:
        yield None
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK")


def _native_sqlite(connection, target: Path) -> None:
    destination = sqlite3.connect(target)
    try:
        connection.connection.backup(destination)
        for table in EXCLUDED_TABLES:
            destination.execute(f'DELETE FROM "{table}"')
        destination.commit()
        # One self-contained file: no -wal beside it.
        destination.execute("PRAGMA journal_mode=DELETE")
    finally:
        destination.close()


def _native_postgres(connection, target: Path, snapshot: str | None) -> str | None:
    """Runs pg_dump; returns a warning instead when pg_dump is not installed."""
    from django.db.backends.postgresql.client import DatabaseClient

    program = shutil.which("pg_dump")
    if program is None:
        return (
            "pg_dump is not installed (package postgresql-client, the server's major version): "
            "the archive holds only the portable dump, which restores more slowly."
        )
    args, env = DatabaseClient.settings_to_cmd_args_env(connection.settings_dict, [])
    command = [program, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    command += [f"--exclude-table-data={table}" for table in EXCLUDED_TABLES]
    if snapshot:
        command.append(f"--snapshot={snapshot}")
    command += args[1:]  # connection options and the database name, as psql would get them
    result = subprocess.run(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DatabaseDumpError(
            "pg_dump failed: " + (" / ".join(message[-3:]) or f"exit {result.returncode}")
        )
    return None


def dump_database(
    staging: Path,
    *,
    include_native: bool = True,
    while_consistent: Callable[[], object] | None = None,
    using: str = "default",
) -> tuple[DatabaseDump, object]:
    """Dumps the database into `staging`; `while_consistent()` runs inside the same snapshot
    (the backup lists its files there) and its result is returned beside the dump."""
    connection = connections[using]
    connection.ensure_connection()
    vendor = connection.vendor
    if vendor == "postgresql":
        server_version = str(connection.pg_version)
        native_name, native_format = NATIVE_POSTGRES, "pg_dump-custom"
    else:
        server_version = sqlite3.sqlite_version
        native_name, native_format = NATIVE_SQLITE, "sqlite3"
    dump = DatabaseDump(vendor=vendor, server_version=server_version, native_format=None)
    with consistent_snapshot(using=using) as snapshot:
        if include_native:
            native_path = staging / native_name.rsplit("/", 1)[-1]
            if vendor == "postgresql":
                warning = _native_postgres(connection, native_path, snapshot)
            else:
                warning = _native_sqlite(connection, native_path)
            if warning:
                dump.warnings.append(warning)
            else:
                size, digest = hash_file(native_path)
                dump.members.append(StagedMember(native_name, native_path, size, digest))
                dump.native_format = native_format
        portable_path = staging / "portable.jsonl"
        with open(portable_path, "wb") as handle:
            hashing = _HashingFile(handle)
            dump.tables = write_portable(hashing, using=using)
        dump.members.append(
            StagedMember(PORTABLE, portable_path, hashing.size, hashing.digest.hexdigest())
        )
        dump.migrations = applied_migrations(using=using)
        extra = while_consistent() if while_consistent is not None else None
    return dump, extra
