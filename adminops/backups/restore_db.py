"""Loading a backup's portable dump (archive.py) into this database, all or nothing.

Everything here runs inside the caller's one transaction (restore.py): the tables are emptied,
the rows loaded, the references of the kept tables mended, the sequences moved on and the
foreign keys checked, and only then does the caller commit. A failure at any point — a damaged
member, a row the database refuses, the process killed — rolls the transaction back, so the
data before the restore is untouched: no table is emptied by a committed statement before the
load has succeeded. PostgreSQL's TRUNCATE is transactional; SQLite's DELETE is too.

Kept tables are never replaced (their rows in an archive are skipped): the list of backups,
the restore confirmations, and the sign-in state (Django sessions, the JWT outstanding and
blacklisted tokens). A session therefore survives a restore only while its account does: the
JWT checks (medikeep/api/authentication.py) and Django's session hash tie every session to its
user's id, active flag and password hash, which come back from the backup; and a sign-out made
since the backup stays in force instead of being undone by older token tables.

The portable dump loads into either vendor, so an SQLite backup restores into PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import orjson
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import AutoField, BigAutoField, SmallAutoField

from adminops.backups.database import PORTABLE, applied_migrations, dump_models
from adminops.backups.manifest import ArchiveError, ArchiveFormatError, Manifest
from adminops.backups.reader import iter_portable

logger = logging.getLogger("adminops.backups")

BATCH_ROWS = 1000
_AUTO_FIELDS = (AutoField, BigAutoField, SmallAutoField)


class DatabaseLoadError(ArchiveError):
    """The dump could not be loaded (a row refused, a reference broken); nothing was changed."""


def kept_models() -> list:
    from django.contrib.sessions.models import Session
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    from adminops.models import Backup, RestoreToken

    return [Backup, RestoreToken, Session, OutstandingToken, BlacklistedToken]


def kept_tables(manifest: Manifest | None = None) -> set[str]:
    """Tables a restore leaves as they are: ours, plus whatever the archive says it left out."""
    tables = {model._meta.db_table for model in kept_models()}
    if manifest is not None and manifest.database:
        tables |= {t for t in manifest.database.get("excluded_tables") or [] if isinstance(t, str)}
    return tables


def replaced_models(kept: set[str]) -> list:
    """The models whose tables a restore replaces, parents first (the dump's order)."""
    return [model for model in dump_models() if model._meta.db_table not in kept]


def _describe(migrations: dict[str, set[str]]) -> str:
    parts = [f"{app}: {', '.join(sorted(names)[:3])}" for app, names in sorted(migrations.items())]
    more = sum(max(0, len(names) - 3) for names in migrations.values())
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def schema_problems(manifest: Manifest, *, using: str = "default") -> list[str]:
    """Why the archive's database cannot be loaded into this one; empty when it can.

    The database must be at exactly the backup's migration state: the portable dump holds the
    rows of that schema, and replaying newer migrations over restored rows is not attempted.
    An older backup is restored with the version that made it, then upgraded by `migrate`."""
    if manifest.database is None or manifest.backup_type == "files":
        return ["This backup holds no database."]
    if manifest.member(PORTABLE) is None:
        return [f"The backup has no portable database dump ({PORTABLE})."]
    problems = []
    archive = {app: set(names) for app, names in manifest.migrations.items()}
    current = {app: set(names) for app, names in applied_migrations(using=using).items()}
    only_archive = {a: archive[a] - current.get(a, set()) for a in archive}
    only_current = {a: current[a] - archive.get(a, set()) for a in current}
    only_archive = {a: n for a, n in only_archive.items() if n}
    only_current = {a: n for a, n in only_current.items() if n}
    if only_archive:
        problems.append(
            "The backup was made by a newer version: its database has migrations this one "
            f"lacks ({_describe(only_archive)}). Upgrade this server first."
        )
    if only_current:
        problems.append(
            "The backup was made by an older version: this database has migrations the "
            f"backup lacks ({_describe(only_current)}). Restore it with the version that made "
            f"it (app version {manifest.app_version or 'unknown'}), then upgrade."
        )
    kept = kept_tables(manifest)
    wanted = {model._meta.db_table for model in replaced_models(kept)}
    in_archive = set(manifest.table_counts)
    unknown = sorted(in_archive - wanted - kept)
    missing = sorted(wanted - in_archive)
    if unknown:
        problems.append(f"The backup has tables this version does not: {', '.join(unknown[:5])}.")
    if missing:
        problems.append(f"The backup lacks tables of this version: {', '.join(missing[:5])}.")
    return problems


class DatabaseLoader:
    """Replaces the data of every non-kept table with the dump's rows. Call, inside one
    transaction: `empty()`, `load(chunks)` with the portable member's bytes, `finish()`."""

    def __init__(
        self,
        manifest: Manifest,
        *,
        using: str = "default",
        progress: Callable[[int, int | None, str], None] | None = None,
    ):
        self.connection = connections[using]
        self.manifest = manifest
        self.kept = kept_tables(manifest)
        self.models = {m._meta.db_table: m for m in replaced_models(self.kept)}
        self.expected = {t: n for t, n in manifest.table_counts.items() if t not in self.kept}
        self.total_rows = sum(self.expected.values())
        self.loaded: dict[str, int] = {}
        self.rows_done = 0
        self._report = progress or (lambda done, total, label: None)

    # --- emptying ---------------------------------------------------------------------------

    def empty(self) -> None:
        if not self.connection.in_atomic_block:
            raise RuntimeError("A restore loads inside one transaction; none is open.")
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                # Checked at the end (finish), so tables load in any order.
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                deleted = self._tables_to_delete()
                truncated = [t for t in self.models if t not in deleted]
                if truncated:
                    cursor.execute("TRUNCATE " + ", ".join(quote(t) for t in truncated))
                for table in deleted:
                    cursor.execute(f"DELETE FROM {quote(table)}")
            else:
                cursor.execute("PRAGMA defer_foreign_keys = ON")
                for table in reversed(list(self.models)):
                    cursor.execute(f"DELETE FROM {quote(table)}")

    def _tables_to_delete(self) -> set[str]:
        """PostgreSQL truncates a table only together with every table whose foreign keys
        point at it; tables the kept ones point at (users, from the backup list) are
        emptied with DELETE instead, and so, in turn, are the tables those point at."""
        edges: dict[str, set[str]] = {}
        for model in [*self.models.values(), *kept_models()]:
            for f in model._meta.concrete_fields:
                if f.is_relation and f.related_model is not None and f.db_constraint:
                    edges.setdefault(model._meta.db_table, set()).add(
                        f.related_model._meta.db_table
                    )
        deleted: set[str] = set()
        frontier = [t for t in self.kept]
        while frontier:
            table = frontier.pop()
            for parent in edges.get(table, ()):
                if parent in self.models and parent not in deleted:
                    deleted.add(parent)
                    frontier.append(parent)
        return deleted

    # --- loading ----------------------------------------------------------------------------

    def load(self, chunks: Iterable[bytes]) -> None:
        table, batch, insert = None, [], None
        try:
            for header, row in iter_portable(chunks):
                if header["table"] != table:
                    if table is not None:
                        self._end_table(table, insert, batch)
                    table, batch = header["table"], []
                    insert = self._start_table(header)
                if row is not None and insert is not None:
                    batch.append(row)
                    if len(batch) >= BATCH_ROWS:
                        insert(batch)
                        batch = []
            if table is not None:
                self._end_table(table, insert, batch)
        except (ValueError, TypeError, ValidationError) as exc:  # not JSON, a bad value
            raise ArchiveFormatError(f"{PORTABLE}: {exc}") from exc

    def _start_table(self, header: dict):
        """The insert function for this table's rows; None for a kept table (skipped)."""
        table = header["table"]
        if table in self.loaded:
            raise ArchiveFormatError(f"{PORTABLE}: table {table} appears twice")
        if table in self.kept:
            self.loaded[table] = 0
            return None
        model = self.models.get(table)
        if model is None:
            raise ArchiveFormatError(f"{PORTABLE}: table {table} does not exist in this version")
        fields = {f.attname: f for f in model._meta.concrete_fields}
        names = header["fields"]
        if len(set(names)) != len(names) or set(names) != set(fields):
            differing = sorted(set(names) ^ set(fields))
            raise ArchiveFormatError(
                f"{PORTABLE}: the columns of {table} differ from this version's "
                f"({', '.join(differing[:5]) or 'repeated names'})"
            )
        ordered = [fields[name] for name in names]
        self.loaded[table] = 0
        return self._inserter(table, ordered)

    def _inserter(self, table: str, fields: list):
        connection = self.connection
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        converted = [
            (index, convert)
            for index, f in enumerate(fields)
            if (convert := _converter(f, connection)) is not None
        ]
        width = len(fields)

        def prepared(rows):
            for row in rows:
                if len(row) != width:
                    raise ArchiveFormatError(f"{PORTABLE}: a row of {table} has {len(row)} values")
                for index, convert in converted:
                    if (value := row[index]) is not None:
                        row[index] = convert(value)
                yield row

        if connection.vendor == "postgresql":
            statement = f"COPY {quote(table)} ({columns}) FROM STDIN"

            def insert(rows):
                # The driver's own cursor: its errors become Django's (IntegrityError …) here.
                with (
                    connection.wrap_database_errors,
                    connection.cursor() as cursor,
                    cursor.cursor.copy(statement) as copy,
                ):
                    for values in prepared(rows):
                        copy.write_row(values)
                self._count(table, len(rows))

        else:
            marks = ", ".join(["%s"] * len(fields))
            statement = f"INSERT INTO {quote(table)} ({columns}) VALUES ({marks})"

            def insert(rows):
                with connection.cursor() as cursor:
                    cursor.executemany(statement, list(prepared(rows)))
                self._count(table, len(rows))

        return insert

    def _count(self, table: str, rows: int) -> None:
        self.loaded[table] += rows
        self.rows_done += rows
        self._report(self.rows_done, self.total_rows, f"database: {table}")

    def _end_table(self, table: str, insert, batch: list) -> None:
        if insert is not None and batch:
            insert(batch)
        self.table_loaded(table, self.loaded[table])

    def table_loaded(self, table: str, rows: int) -> None:
        """Called after each table (tests stop a restore here)."""

    # --- finishing --------------------------------------------------------------------------

    def finish(self) -> dict[str, int]:
        """Checks the load against the manifest, mends kept rows, moves sequences on and
        checks every foreign key; answers the rows loaded per table."""
        missing = sorted(set(self.models) - set(self.loaded))
        if missing:
            raise ArchiveFormatError(f"{PORTABLE}: tables missing: {', '.join(missing[:5])}")
        for table, rows in self.expected.items():
            if self.loaded.get(table) != rows:
                raise ArchiveFormatError(
                    f"{PORTABLE}: {table} has {self.loaded.get(table)} rows, the manifest "
                    f"says {rows}"
                )
        self._mend_kept_references()
        self._move_sequences()
        self._check_foreign_keys()
        return {t: n for t, n in self.loaded.items() if t not in self.kept}

    def _mend_kept_references(self) -> None:
        """Kept rows that point at rows the backup does not have: nullable references are
        cleared (a backup's creator), other rows go (a confirmation of a vanished admin)."""
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            for model in kept_models():
                table = quote(model._meta.db_table)
                for f in model._meta.concrete_fields:
                    parent = f.related_model if f.is_relation else None
                    if parent is None or parent._meta.db_table not in self.models:
                        continue
                    column = quote(f.column)
                    orphan = (
                        f"{table}.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                        f"{quote(parent._meta.db_table)} p WHERE p.{quote(f.target_field.column)}"
                        f" = {table}.{column})"
                    )
                    if f.null:
                        cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE {orphan}")
                    else:
                        cursor.execute(f"DELETE FROM {table} WHERE {orphan}")

    def _move_sequences(self) -> None:
        """PostgreSQL: each id sequence goes past the restored rows and never back, so an
        id handed out before the restore is not handed out again to something else.
        (SQLite's AUTOINCREMENT keeps its high-water mark by itself.)"""
        if self.connection.vendor != "postgresql":
            return
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            for table, model in self.models.items():
                pk = model._meta.pk
                if not isinstance(pk, _AUTO_FIELDS):
                    continue
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [quote(table), pk.column])
                sequence = cursor.fetchone()[0]
                if not sequence:
                    continue
                cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
                last, called = cursor.fetchone()
                cursor.execute(f"SELECT MAX({quote(pk.column)}) FROM {quote(table)}")
                highest = max(cursor.fetchone()[0] or 0, last if called else last - 1)
                if highest > 0:
                    cursor.execute("SELECT setval(%s, %s, true)", [sequence, highest])

    def _check_foreign_keys(self) -> None:
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                from django.db import IntegrityError

                try:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                except IntegrityError as exc:
                    raise DatabaseLoadError(f"The backup's rows break a reference: {exc}") from exc
                return
            cursor.execute("PRAGMA foreign_key_check")
            broken = cursor.fetchall()
        if broken:
            examples = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:3])
            raise DatabaseLoadError(
                f"The backup's rows break {len(broken)} reference(s), e.g. {examples}."
            )


def _converter(field, connection):
    """JSON value of the dump -> the value the database driver takes for this column; None
    when the JSON value is that value already.

    The general way is the field's own: `to_python`, then `get_db_prep_save`. It costs a few
    microseconds a value, most of a large restore, so the common column types take a short
    cut: JSON numbers, strings and booleans go as they are when their type is the column's
    (anything else still takes the general way, which refuses what does not fit), and on
    PostgreSQL, whose COPY parses text for every type, dates, times, decimals and UUIDs go as
    the dump's ISO text and JSON values as JSON text."""
    general = _general(field, connection)
    base = field.target_field if field.is_relation else field
    if not type(base).__module__.startswith("django.db.models."):
        return general  # a field class of our own may transform values: its own way
    postgres = connection.vendor == "postgresql"
    if isinstance(base, models.BooleanField):
        return _only_if(bool, general)
    if isinstance(base, models.IntegerField | models.AutoField):
        return _only_if(int, general)
    if isinstance(base, models.CharField | models.TextField):
        return _only_if(str, general)
    if isinstance(base, models.FloatField):
        return lambda value: value if type(value) in (float, int) else general(value)
    if isinstance(base, models.TimeField) or (
        isinstance(base, models.DateField) and not isinstance(base, models.DateTimeField)
    ):
        return _only_if(str, general)  # ISO text, as Django itself stores them on SQLite
    if postgres and isinstance(base, models.DateTimeField | models.DecimalField | models.UUIDField):
        return _only_if(str, general)
    if postgres and isinstance(base, models.JSONField):
        return _json_text(general)
    return general


def _json_text(general):
    def convert(value):
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:  # an integer beyond 64 bits
            return general(value)

    return convert


def _only_if(kind: type, general):
    def convert(value):
        return value if type(value) is kind else general(value)

    return convert


def _general(field, connection):
    def convert(value):
        return field.get_db_prep_save(field.to_python(value), connection)

    return convert
