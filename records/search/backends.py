"""The database-specific parts of search: the text indexes over records_searchentry.body,
the triggers that drop a record's entry when the record is deleted, and the SQL that
matches query words.

Matching is the same on both databases (so they find the same records): each query word,
cut into terms like the stored text, must occur in the record's terms —
- as a substring when it is at least 3 characters long ("statin" finds "atorvastatin",
  "e11.9" finds "E11.9"): a trigram index serves it (SQLite: an FTS5 table with the trigram
  tokenizer; PostgreSQL: pg_trgm's GIN index, or a scan of the user's entries where the
  extension could not be created);
- as the start of a term when shorter ("i1" finds "I10"): a word index serves it (SQLite: an
  FTS5 table with a prefix index; PostgreSQL: a GIN full-text index).

`install()` is idempotent. Migration 0015 runs it, and so does every `migrate` (post_migrate):
that is how a database built without migrations (the tests) gets it, and how a record type
added later gets its delete trigger — the types come from the registry, not from a list.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connections, transaction

logger = logging.getLogger("records.search")

TABLE = "records_searchentry"
WORDS = "records_searchentry_words"  # SQLite FTS5, word terms with a prefix index
TRIGRAMS = "records_searchentry_trigrams"  # SQLite FTS5, trigram tokenizer
FORGET = "records_search_forget"
# The full-text expression: the index is built on it, and a query must repeat it exactly.
TSVECTOR = "to_tsvector('simple'::regconfig, {column})"
SUBSTRING_MIN = 3


def _record_tables() -> list[tuple[str, str]]:
    from records.search.index import indexed_models

    return [(model._meta.db_table, model.kind.name) for model in indexed_models()]


def install(using: str = "default") -> None:
    connection = connections[using]
    if connection.vendor == "sqlite":
        _install_sqlite(connection)
    elif connection.vendor == "postgresql":
        _install_postgresql(connection)


# --- SQLite ---------------------------------------------------------------------------------


def _install_sqlite(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (%s, %s)",
            [WORDS, TRIGRAMS],
        )
        existing = {row[0] for row in cursor.fetchall()}
        # External-content tables: the text lives once, in records_searchentry; the
        # triggers below keep the two indexes in step with its rows.
        tables = {
            WORDS: "tokenize = 'unicode61 remove_diacritics 0', prefix = '1 2'",
            TRIGRAMS: "tokenize = 'trigram'",
        }
        for name, options in tables.items():
            if name in existing:
                continue
            cursor.execute(
                f"CREATE VIRTUAL TABLE {name} USING fts5(body, content = '{TABLE}', "
                f"content_rowid = 'id', {options})"
            )
            cursor.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")
        add = "; ".join(f"INSERT INTO {t}(rowid, body) VALUES (new.id, new.body)" for t in tables)
        remove = "; ".join(
            f"INSERT INTO {t}({t}, rowid, body) VALUES ('delete', old.id, old.body)" for t in tables
        )
        triggers = {
            f"{TABLE}_ai": f"AFTER INSERT ON {TABLE} BEGIN {add}; END",
            f"{TABLE}_ad": f"AFTER DELETE ON {TABLE} BEGIN {remove}; END",
            f"{TABLE}_au": f"AFTER UPDATE OF body ON {TABLE} BEGIN {remove}; {add}; END",
        }
        for table, record_type in _record_tables():
            triggers[f"{FORGET}_{table}"] = (
                f"AFTER DELETE ON {table} BEGIN DELETE FROM {TABLE} "
                f"WHERE record_type = '{record_type}' AND record_id = old.id; END"
            )
        for name, body in triggers.items():
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"CREATE TRIGGER {name} {body}")


def _fts_phrase(words: list[str], prefix: bool) -> str:
    # Terms are letters and digits only, so a double-quoted phrase needs no escaping.
    return " AND ".join(f'"{word}"' + ("*" if prefix else "") for word in words)


# --- PostgreSQL -----------------------------------------------------------------------------


def has_trigrams(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return cursor.fetchone() is not None


def _indexes(cursor) -> set[str]:
    cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [TABLE])
    return {row[0] for row in cursor.fetchall()}


def _install_postgresql(connection) -> None:
    # Each piece is made only when missing: DDL on a table fails inside a transaction that
    # still has deferred constraint checks pending (the rebuild command in a test, say).
    with connection.cursor() as cursor:
        if "records_search_words" not in _indexes(cursor):
            words = TSVECTOR.format(column="body")
            cursor.execute(f"CREATE INDEX records_search_words ON {TABLE} USING gin ({words})")
        if "records_search_newest" not in _indexes(cursor):
            # The web app's default order (newest first, undated last) read straight from an
            # index: listing a type's first page is then a short index scan, not a sort.
            cursor.execute(
                f"CREATE INDEX records_search_newest ON {TABLE} "
                "(patient_id, record_type, record_date DESC NULLS LAST, record_id DESC)"
            )
        if not has_trigrams(connection):
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except DatabaseError as exc:
                logger.warning(
                    "Search: the pg_trgm extension could not be created (%s). Searching works "
                    "without it but words of 3 or more characters are then found by scanning "
                    "the user's entries instead of through a trigram index. A superuser can "
                    "run CREATE EXTENSION pg_trgm and then manage.py migrate.",
                    str(exc).strip(),
                )
        if has_trigrams(connection) and "records_search_trigrams" not in _indexes(cursor):
            cursor.execute(
                f"CREATE INDEX records_search_trigrams ON {TABLE} USING gin (body gin_trgm_ops)"
            )
        # One statement per DELETE, however many rows it removes (a patient's cascade).
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {FORGET}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN DELETE FROM {TABLE} e USING gone "
            "WHERE e.record_type = TG_ARGV[0] AND e.record_id = gone.id; RETURN NULL; END $$"
        )
        cursor.execute(
            "SELECT c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = %s",
            [FORGET],
        )
        existing = dict(cursor.fetchall())
        for table, record_type in _record_tables():
            if f"{FORGET}('{record_type}')" in existing.get(table, ""):
                continue
            cursor.execute(f'DROP TRIGGER IF EXISTS {FORGET} ON "{table}"')
            cursor.execute(
                f'CREATE TRIGGER {FORGET} AFTER DELETE ON "{table}" '
                "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {FORGET}('{record_type}')"
            )


# --- matching -------------------------------------------------------------------------------


def matched_entries(connection, words: list[str]) -> tuple[str, list[str], list]:
    """A FROM clause naming records_searchentry `e`, WHERE conditions and their parameters
    (in that order) that keep the entries whose terms hold every one of `words` (each
    already in term form)."""
    long_words = [w for w in words if len(w) >= SUBSTRING_MIN]
    short_words = [w for w in words if len(w) < SUBSTRING_MIN]
    if connection.vendor == "sqlite":
        parts, params = [], []
        for table, chosen, prefix in ((TRIGRAMS, long_words, False), (WORDS, short_words, True)):
            if chosen:
                parts.append(f"SELECT rowid AS id FROM {table} WHERE {table} MATCH %s")
                params.append(_fts_phrase(chosen, prefix))
        if not parts:
            return f"{TABLE} e", [], []
        # The text index first, then each match's entry by its id (CROSS JOIN keeps that
        # order): the planner would otherwise walk all the patient's entries and look each
        # up in the list of matches.
        matches = " INTERSECT ".join(parts)
        return f"({matches}) m CROSS JOIN {TABLE} e ON e.id = m.id", [], params
    conditions, params = [], []
    for word in long_words:
        # Terms hold no % or _, so the word needs no LIKE escaping.
        conditions.append("e.body LIKE %s")
        params.append(f"%{word}%")
    if short_words:
        conditions.append(f"{TSVECTOR.format(column='e.body')} @@ to_tsquery('simple', %s)")
        params.append(" & ".join(f"{word}:*" for word in short_words))
    return f"{TABLE} e", conditions, params
