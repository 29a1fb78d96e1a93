"""The one search query under both response forms (records/api/search.py).

A search is a filter on the index (the patients the user may see, types, dates, the query's
words) and an order; it answers either per type (counts and a page of each group: the web
app's form) or as one ranked list with its total (the contract's form). One statement
answers both the counts and the page, however many records match; the records themselves
are then shown by items.py.

- With words, the matching entries are gathered once (the text index, then each match's
  entry) and both ranked (a window per type, or over all) and counted from that set.
- Without words (the web app's "list everything"), the counts come from the (patient, type,
  date) index alone and each type's page is read in that index's order, so listing a
  patient's 100,000 records never sorts them.

Ranking: a record whose name is the query comes first, then names that start with it, then
the other matches; within a rank, the newest first. The order is the same on both databases
(names compare byte-wise, dates without a value last, ties broken by the record's type and
id), so SQLite and PostgreSQL answer alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connections, router

from patients.access import Level, accessible_patient_ids
from records.models import SearchEntry
from records.search.backends import matched_entries
from records.search.index import indexed_models, term_text

SORTS = ("relevance", "date_desc", "date_asc", "title", "title_desc")
DEFAULT_SORT = "date_desc"
# The score shown per rank (exact name, name prefix, elsewhere).
SCORES = (1.0, 0.9, 0.6)
TABLE = SearchEntry._meta.db_table
COLUMNS = ("record_type", "record_id", "patient_id", "title", "record_date", "folded_title")


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

    @property
    def nothing_to_match(self) -> bool:
        """Only punctuation typed: no record can hold it."""
        return bool((self.q or "").strip()) and not self.words


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


@dataclass
class Found:
    counts: dict[str, int]  # {record type: matches}, types with at least one
    hits: list[Hit]  # the page, in order (per type, or overall)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _connection():
    return connections[router.db_for_read(SearchEntry)]


def _filters(search: Search, connection) -> tuple[list[str], list]:
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
    if search.nothing_to_match:
        conditions.append("1 = 0")
    return conditions, params


def _rank(search: Search) -> tuple[str, list]:
    if not search.words:
        return "0", []
    phrase = " ".join(search.words)
    # Terms hold no % or _, so the prefix pattern needs no escaping.
    return (
        "CASE WHEN e.folded_title = %s THEN 0 WHEN e.folded_title LIKE %s THEN 1 ELSE 2 END",
        [phrase, f"{phrase}%"],
    )


def _order(sort: str, connection, alias: str) -> str:
    """The ORDER BY of `sort` over rows named `alias` (with a `rnk` column for relevance).
    Dates without a value go last both ways, as the two databases would not agree on it."""
    p = f"{alias}."
    postgresql = connection.vendor == "postgresql"
    title = f'{p}folded_title COLLATE "C"' if postgresql else f"{p}folded_title"
    # SQLite puts NULL last in a descending order by itself, which lets it read the date
    # index in order; PostgreSQL needs telling.
    newest = f"{p}record_date DESC" + (" NULLS LAST" if postgresql else "")
    newest += f", {p}record_type, {p}record_id DESC"
    return {
        "relevance": f"{p}rnk, {newest}",
        "date_desc": newest,
        "date_asc": f"{p}record_date IS NULL, {p}record_date, {p}record_type, {p}record_id",
        "title": f"{title}, {p}record_type, {p}record_id",
        "title_desc": f"{title} DESC, {p}record_type DESC, {p}record_id DESC",
    }[sort]


def _as_date(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _found(rows) -> Found:
    """Rows of (type, id, patient, title, date, rank, position or count): page rows have an
    id; the count rows (one per type) have none. The page comes back in position order."""
    counts, page = {}, []
    for record_type, record_id, patient_id, title, record_date, rank, number in rows:
        if record_id is None:
            counts[record_type] = number
        else:
            hit = Hit(record_type, record_id, patient_id, title, _as_date(record_date), rank)
            page.append((number, hit))
    # Stable: rows of equal position (the overall page, all 0) stay in the statement's order.
    page.sort(key=lambda pair: pair[0])
    return Found(counts, [hit for _, hit in page])


def _run(connection, sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def search(search: Search, skip: int, limit: int, *, per_type: bool) -> Found:
    """The counts per type and one page: rows skip+1 … skip+limit of each type (per_type) or
    of all matches. Hits of one type keep their order; per type, types may interleave."""
    connection = _connection()
    if per_type and not search.words:
        return _listing(search, connection, skip, limit)
    source, match_conditions, match_params = matched_entries(connection, list(search.words))
    conditions, params = _filters(search, connection)
    rank, rank_params = _rank(search)
    columns = ", ".join(f"e.{name}" for name in COLUMNS)
    order = _order(search.sort, connection, "h")
    if per_type:  # a window numbers each type's matches in order
        page = (
            "SELECT record_type, record_id, patient_id, title, record_date, rnk, position FROM "
            f"(SELECT h.*, ROW_NUMBER() OVER (PARTITION BY h.record_type ORDER BY {order}) "
            "AS position FROM hits h) ranked WHERE position > %s AND position <= %s"
        )
        page_params = [skip, skip + limit]
    else:  # the top rows only: no need to number every match
        page = (
            "SELECT * FROM (SELECT record_type, record_id, patient_id, title, record_date, rnk, "
            f"0 AS position FROM hits h ORDER BY {order} LIMIT %s OFFSET %s) page"
        )
        page_params = [limit, skip]
    # One statement: the matches gathered once, then ranked (the page) and counted.
    sql = (
        f"WITH hits AS MATERIALIZED (SELECT {columns}, {rank} AS rnk FROM {source} "
        f"WHERE {' AND '.join([*match_conditions, *conditions])}) "
        f"{page} UNION ALL SELECT record_type, NULL, NULL, NULL, NULL, NULL, COUNT(*) "
        "FROM hits GROUP BY record_type"
    )
    return _found(_run(connection, sql, [*rank_params, *match_params, *params, *page_params]))


def _listing(search: Search, connection, skip: int, limit: int) -> Found:
    """Every record (no words): counts from the index, then each type's page in the index's
    order — the types with rows on this page only."""
    conditions, params = _filters(search, connection)
    where = " AND ".join(conditions)
    counts = dict(
        _run(
            connection,
            f"SELECT e.record_type, COUNT(*) FROM {TABLE} e WHERE {where} GROUP BY e.record_type",
            params,
        )
    )
    shown = sorted(name for name, count in counts.items() if count > skip)
    if not shown:
        return Found(counts, [])
    columns = ", ".join(f"e.{name}" for name in COLUMNS)
    # Without words every record ranks alike: relevance is the newest first.
    order = _order(DEFAULT_SORT if search.sort == "relevance" else search.sort, connection, "e")
    parts, part_params = [], []
    for number, record_type in enumerate(shown):
        parts.append(
            f"SELECT * FROM (SELECT {columns}, 0 AS rnk, 0 AS position FROM {TABLE} e "
            f"WHERE {where} AND e.record_type = %s ORDER BY {order} LIMIT %s OFFSET %s) p{number}"
        )
        part_params += [*params, record_type, limit, skip]
    rows = _run(connection, " UNION ALL ".join(parts), part_params)
    hits = [Hit(row[0], row[1], row[2], row[3], _as_date(row[4]), 0) for row in rows]
    return Found(counts, hits)
