"""Keeping the search index (SearchEntry) in step with the records.

Text is stored folded (lower case, accents removed) and cut into terms: runs of letters and
digits joined by single spaces ("E11.9 Type-2" → "e11 9 type 2"). Both databases then see
the same terms, so a query finds the same records on SQLite and PostgreSQL, and a code typed
with its punctuation ("E11.9") meets the stored one.

Saves reach the index through a post_save receiver (one upsert in the saving transaction).
Deletes reach it through database triggers (backends.py), not post_delete receivers: a
receiver would make every cascade (a patient with years of readings) load and signal each
row instead of deleting them in one statement. Writes that bypass save() (bulk_create,
bulk_update, queryset.update) call `reindex(model, ids)` in their transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable

from django.db import router, transaction
from django.utils import timezone

from patients.models import RecordKind, record_models
from records.models import SearchEntry

BATCH = 1000
TITLE_LENGTH = SearchEntry._meta.get_field("title").max_length
_TERM = re.compile(r"[^\W_]+")
_SPACES = re.compile(r"\s+")
# Columns rewritten by an upsert (the key, record_type + record_id, stays).
_UPSERT_FIELDS = ["patient", "title", "folded_title", "body", "tags", "record_date", "updated_at"]


def fold(text) -> str:
    """Lower case, accents removed, whitespace squeezed: "  Café\tAU lait " → "cafe au lait"."""
    if text is None:
        return ""
    text = str(text)
    if not text.isascii():  # plain ASCII (most text) has nothing to decompose
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", text.casefold()).strip()


def terms(text) -> list[str]:
    """The folded text's runs of letters and digits: "E11.9 (Type-2)" → [e11, 9, type, 2]."""
    return _TERM.findall(fold(text))


def term_text(text) -> str:
    return " ".join(terms(text))


def _flat(value) -> str:
    # JSON list fields (tags, triggers) are searched by their strings.
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value if isinstance(item, str | int | float))
    return "" if value is None else str(value)


def _local_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value if isinstance(value, dt.date) else None


def indexed_fields(kind: RecordKind) -> set[str]:
    """The fields whose change changes the record's entry."""
    fields = {"patient", "patient_id", "tags", kind.title, *kind.text}
    return fields | ({kind.date} if kind.date else set())


def entry_values(kind: RecordKind, record) -> dict:
    """The entry of one record (a model instance, or any object with its fields)."""
    title = _flat(getattr(record, kind.title, ""))
    tags = [t for t in (getattr(record, "tags", None) or []) if isinstance(t, str)]
    parts = [title, *(_flat(getattr(record, name, None)) for name in kind.text), *tags]
    return {
        "patient_id": record.patient_id,
        "record_type": kind.name,
        "record_id": record.pk,
        "title": title[:TITLE_LENGTH],
        "folded_title": term_text(title)[:TITLE_LENGTH],
        "body": term_text(" ".join(parts)),
        "tags": f",{','.join(tags)}," if tags else "",
        "record_date": _local_date(getattr(record, kind.date, None)) if kind.date else None,
    }


def _upsert(entries: list[SearchEntry], using: str, manager=None) -> None:
    if entries:
        (manager or SearchEntry.objects).db_manager(using).bulk_create(
            entries,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["record_type", "record_id"],
            update_fields=_UPSERT_FIELDS,
        )


def index_record(record, *, using: str | None = None) -> None:
    """Writes one record's entry (an upsert: one query)."""
    kind = type(record).kind
    if kind is None:
        return
    using = using or router.db_for_write(SearchEntry)
    _upsert([SearchEntry(**entry_values(kind, record))], using)


def _record_fields(model, kind: RecordKind) -> list[str]:
    names = {f.name for f in model._meta.concrete_fields}
    wanted = {"id", "patient", kind.title, *kind.text, "tags"} | (
        {kind.date} if kind.date else set()
    )
    return [name for name in wanted if name in names]


def reindex(model, ids: Iterable | None = None, *, using: str | None = None) -> int:
    """Rebuilds the entries of `model`'s records `ids` (every record when None) and drops the
    entries of those that are gone. Call it inside the transaction that wrote the records
    without save() (bulk_create, bulk_update, queryset.update). Returns the entries written."""
    kind = getattr(model, "kind", None)
    if kind is None:
        return 0
    using = using or router.db_for_write(SearchEntry)
    wanted = None if ids is None else sorted({int(pk) for pk in ids if pk is not None})
    fields = _record_fields(model, kind)
    written = 0
    with transaction.atomic(using=using):
        if wanted is None:
            SearchEntry.objects.using(using).filter(record_type=kind.name).exclude(
                record_id__in=model._base_manager.using(using).values("pk")
            ).delete()
            chunks: Iterable = [None]
        else:
            chunks = (wanted[i : i + BATCH] for i in range(0, len(wanted), BATCH))
        for chunk in chunks:
            rows = model._base_manager.using(using).only(*fields).order_by("pk")
            if chunk is not None:
                rows = rows.filter(pk__in=chunk)
            found: set[int] = set()
            batch: list[SearchEntry] = []
            for record in rows.iterator(chunk_size=BATCH):
                found.add(record.pk)
                batch.append(SearchEntry(**entry_values(kind, record)))
                if len(batch) >= BATCH:
                    _upsert(batch, using)
                    written += len(batch)
                    batch = []
            _upsert(batch, using)
            written += len(batch)
            if chunk is not None and len(found) < len(chunk):
                gone = [pk for pk in chunk if pk not in found]
                SearchEntry.objects.using(using).filter(
                    record_type=kind.name, record_id__in=gone
                ).delete()
    return written


def indexed_models() -> list:
    """Every record type with a kind: what search covers."""
    return [model for model in record_models() if getattr(model, "kind", None) is not None]


def rebuild(*, using: str | None = None) -> dict[str, int]:
    """Rebuilds the whole index: every record's entry, none for records or types gone."""
    using = using or router.db_for_write(SearchEntry)
    counts = {}
    with transaction.atomic(using=using):
        models = indexed_models()
        SearchEntry.objects.using(using).exclude(
            record_type__in=[model.kind.name for model in models]
        ).delete()
        for model in models:
            counts[model.kind.name] = reindex(model, using=using)
    return counts


def on_record_saved(sender, instance, raw=False, using=None, update_fields=None, **kwargs):
    """post_save of every record type with a kind: the entry follows the record."""
    kind = getattr(sender, "kind", None)
    if kind is None:
        return
    if update_fields is not None and not indexed_fields(kind).intersection(update_fields):
        return  # a save of other columns (a reminder's last run …) leaves the entry as it is
    index_record(instance, using=using)


def connect_receivers() -> None:
    from django.db.models.signals import post_save

    for model in indexed_models():
        post_save.connect(
            on_record_saved, sender=model, dispatch_uid=f"records.search.{model._meta.label}"
        )
