"""The one search query under both response forms (records/api/search.py).

A search is a filter on the index (the patients the user may see, types, dates, the query's
words) and an order; it answers either per type (counts and a page of each group: the web
app's form) or as one ranked list with its total (the contract's form). Two queries either
way, however many records match; the records themselves are then shown by items.py.

Ranking: a record whose name is the query comes first, then names that start with it, then
the other matches; within a rank, the newest first. The order is the same on both databases
(names compare byte-wise, ties broken by the record's type and id), so SQLite and PostgreSQL
answer alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connections, router

from patients.access import Level, accessible_patient_ids
from records.models import SearchEntry
from records.search.backends import match_sql
from records.search.index import indexed_models, term_text

SORTS = ("relevance", "date_desc", "date_asc", "title", "title_desc")
DEFAULT_SORT = "date_desc"
# The score shown per rank (exact name, name prefix, elsewhere).
SCORES = (1.0, 0.9, 0.6)


def models_by_key() -> dict[str, type]:
    """Each record type by its kind's name and plural ("medication", "medications")."""
    found = {}
    for model in indexed_models():
        found.setdefault(model.kind.name, model)
        found.setdefault(model.kind.plural, model)
    return found


@dataclass(frozen=True)
class Search:
    user: object
    q: str = ""
    patient_id: int | None = None  # None: every patient the user may see (checked by the caller)
    types: tuple[str, ...] = ()  # kind names; empty: every type
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = DEFAULT_SORT
    words: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        # Whitespace separates words; punctuation inside a word joins its terms ("E11.9").
        words = tuple(w for w in (term_text(part) for part in (self.q or "").split()) if w)
        object.__setattr__(self, "words", words)


@dataclass(frozen=True)
class Hit:
    record_type: str
    record_id: int
    patient_id: int
    title: str
    record_date: dt.date | None
    rank: int

    @property
    def score(self) -> float:
        return SCORES[self.rank]


def _connection():
    return connections[router.db_for_read(SearchEntry)]


def _where(search: Search, connection) -> tuple[str, list]:
    conditions, params = [], []
    if search.patient_id is not None:
        conditions.append("e.patient_id = %s")
        params.append(search.patient_id)
    else:
        visible = accessible_patient_ids(search.user, Level.VIEW)
        conditions.append(f"e.patient_id IN ({visible.sql})")
        params.extend(visible.params)
    if search.types:
        conditions.append(f"e.record_type IN ({', '.join(['%s'] * len(search.types))})")
        params.extend(search.types)
    for bound, operator in ((search.date_from, ">="), (search.date_to, "<=")):
        if bound is not None:
            conditions.append(f"e.record_date {operator} %s")
            params.append(connection.ops.adapt_datefield_value(bound))
    if (search.q or "").strip() and not search.words:
        conditions.append("1 = 0")  # only punctuation typed: nothing can hold it
    matched, match_params = match_sql(connection, list(search.words))
    conditions.extend(matched)
    params.extend(match_params)
    return " AND ".join(conditions), params


def _rank(search: Search) -> tuple[str, list]:
    if not search.words:
        return "0", []
    phrase = " ".join(search.words)
    # Terms hold no % or _, so the prefix pattern needs no escaping.
    return (
        "CASE WHEN e.folded_title = %s THEN 0 WHEN e.folded_title LIKE %s THEN 1 ELSE 2 END",
        [phrase, f"{phrase}%"],
    )


def _order(search: Search, connection, rank: str) -> str:
    title = 'e.folded_title COLLATE "C"' if connection.vendor == "postgresql" else "e.folded_title"
    newest = "e.record_date IS NULL, e.record_date DESC, e.record_type, e.record_id DESC"
    return {
        "relevance": f"{rank}, {newest}",
        "date_desc": newest,
        "date_asc": "e.record_date IS NULL, e.record_date, e.record_type, e.record_id",
        "title": f"{title}, e.record_type, e.record_id",
        "title_desc": f"{title} DESC, e.record_type DESC, e.record_id DESC",
    }[search.sort]


def _hits(cursor) -> list[Hit]:
    return [
        Hit(row[0], row[1], row[2], row[3], _as_date(row[4]), row[5]) for row in cursor.fetchall()
    ]


def _as_date(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


COLUMNS = "e.record_type, e.record_id, e.patient_id, e.title, e.record_date"


def counts(search: Search) -> dict[str, int]:
    """{record type: matches}, for the types with at least one."""
    connection = _connection()
    where, params = _where(search, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.record_type, COUNT(*) FROM {SearchEntry._meta.db_table} e "
            f"WHERE {where} GROUP BY e.record_type",
            params,
        )
        return dict(cursor.fetchall())


def grouped_page(search: Search, skip: int, limit: int) -> list[Hit]:
    """Rows skip+1 … skip+limit of each type's matches, in the search's order."""
    connection = _connection()
    where, params = _where(search, connection)
    rank, rank_params = _rank(search)
    order = _order(search, connection, rank)
    # The rank appears twice (selected, and in the window's order when sorting by it).
    order_params = rank_params if search.sort == "relevance" else []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT record_type, record_id, patient_id, title, record_date, rnk FROM ("
            f"SELECT {COLUMNS}, {rank} AS rnk, ROW_NUMBER() OVER "
            f"(PARTITION BY e.record_type ORDER BY {order}) AS position "
            f"FROM {SearchEntry._meta.db_table} e WHERE {where}"
            ") ranked WHERE position > %s AND position <= %s ORDER BY record_type, position",
            [*rank_params, *order_params, *params, skip, skip + limit],
        )
        return _hits(cursor)


def ranked_page(search: Search, skip: int, limit: int) -> list[Hit]:
    """Rows skip+1 … skip+limit of all matches, in the search's order."""
    connection = _connection()
    where, params = _where(search, connection)
    rank, rank_params = _rank(search)
    order = _order(search, connection, rank)
    order_params = rank_params if search.sort == "relevance" else []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {COLUMNS}, {rank} FROM {SearchEntry._meta.db_table} e WHERE {where} "
            f"ORDER BY {order} LIMIT %s OFFSET %s",
            [*rank_params, *params, *order_params, limit, skip],
        )
        return _hits(cursor)
