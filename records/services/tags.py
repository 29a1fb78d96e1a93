"""Tags across every tagged record type, and each user's tag registry (UserTag).

Tags live on the records (TaggedMixin: a JSON list mirrored into `tag_index`). Reads count
them in SQL over the records the user may see (json_each on SQLite, jsonb_array_elements_text
on PostgreSQL) in one statement for every type, so their cost does not depend on Python
walking rows. Writes (rename, replace, delete) change only records the user may edit, every
type in one transaction, and keep the search index in step.

The registry is per user: no read here ever returns a tag only another user registered (the
reference reads one global table, inventory §10 #33).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from patients.models import MAX_TAG_LENGTH, TaggedMixin, normalise_tags, record_models
from records.models import UserTag
from records.search.index import reindex

__all__ = [
    "TagUsage",
    "autocomplete_tags",
    "change_tag",
    "count_tags",
    "ensure_registered",
    "models_named",
    "normalise_tag",
    "popular_tags",
    "register_tag",
    "search_record_ids",
    "set_tag_color",
    "suggest_tags",
    "tagged_models",
]


def tagged_models() -> list[type[TaggedMixin]]:
    """Every record type that carries tags and has a kind (its name is the entity type)."""
    return [
        model
        for model in record_models()
        if issubclass(model, TaggedMixin) and getattr(model, "kind", None) is not None
    ]


def models_named(
    entity_types: list[str] | None, field_name: str = "entity_types"
) -> list[type[TaggedMixin]]:
    """The tagged types named (kind.name), all of them when none are; an unknown name is a
    ValidationError on `field_name`."""
    models = tagged_models()
    if not entity_types:
        return models
    by_name = {model.kind.name: model for model in models}
    unknown = sorted({name for name in entity_types if name not in by_name})
    if unknown:
        raise ValidationError(
            {
                field_name: f"Unknown entity type: {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(by_name))}."
            }
        )
    wanted = set(entity_types)
    return [model for model in models if model.kind.name in wanted]


def normalise_tag(value: str, field_name: str = "tag") -> str:
    """One tag cleaned as record tags are (lower case, spaces to dashes); empty or too long
    is a ValidationError on `field_name`."""
    try:
        cleaned = normalise_tags([value])
    except ValidationError as exc:
        raise ValidationError(
            {field_name: f"A tag may be at most {MAX_TAG_LENGTH} characters."}
        ) from exc
    if not cleaned:
        raise ValidationError({field_name: "Give a tag."})
    return cleaned[0]


# --- counting in SQL --------------------------------------------------------------------------


def _subquery_sql(queryset: QuerySet) -> tuple[str, list]:
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, list(params)


def _tag_rows_sql(vendor: str, position: int, records_sql: str) -> str:
    """`(type position, tag, records carrying it)` for one type's scoped records. The type
    is an integer the code chose (never user input), inlined so the union needs no typed
    parameters."""
    if vendor == "postgresql":
        elements = (
            "jsonb_array_elements_text(CASE WHEN jsonb_typeof(r.tags) = 'array' "
            "THEN r.tags ELSE '[]'::jsonb END) AS e(value)"
        )
        return (
            f"SELECT {position} AS k, e.value AS tag, COUNT(*) AS n "
            f"FROM ({records_sql}) r CROSS JOIN LATERAL {elements} GROUP BY e.value"
        )
    # SQLite: json_each of a non-array would yield the value itself; keep text elements only.
    return (
        f"SELECT {position} AS k, e.value AS tag, COUNT(*) AS n "
        f"FROM ({records_sql}) r, json_each(CASE WHEN json_type(r.tags) = 'array' "
        f"THEN r.tags ELSE '[]' END) e WHERE e.type = 'text' GROUP BY e.value"
    )


def _match_sql(vendor: str) -> str:
    """A condition on `tag` that holds when it contains the parameter (no LIKE: no escaping)."""
    return "strpos(tag, %s) > 0" if vendor == "postgresql" else "instr(tag, %s) > 0"


@dataclass
class TagUsage:
    tag: str
    count: int = 0
    entity_types: list[str] = field(default_factory=list)


def count_tags(
    user,
    models: list[type[TaggedMixin]],
    *,
    limit: int | None,
    containing: str = "",
) -> list[TagUsage]:
    """Tags on the records `user` may see, most used first (ties by name), with the types
    that carry each. One query whatever the number of types or records."""
    if not models:
        return []
    alias = models[0].objects.db
    vendor = connections[alias].vendor
    parts, params = [], []
    for position, model in enumerate(models):
        records = model.objects.visible_to(user).exclude(tag_index="")
        if containing:
            # Only records whose tag mirror holds the text can carry a matching tag: the
            # JSON of the others is not read at all.
            records = records.filter(tag_index__contains=containing)
        records_sql, records_params = _subquery_sql(records.order_by().values("tags"))
        parts.append(_tag_rows_sql(vendor, position, records_sql))
        params += records_params
    types_agg = "string_agg(k::text, ',')" if vendor == "postgresql" else "group_concat(k, ',')"
    where = ""
    if containing:
        where = f"WHERE {_match_sql(vendor)}"
        params.append(containing)
    sql = (
        f"SELECT tag, SUM(n) AS total, {types_agg} AS kinds "
        f"FROM ({' UNION ALL '.join(parts)}) used {where} "
        "GROUP BY tag ORDER BY total DESC, tag"
    )
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    names = [model.kind.name for model in models]
    return [
        TagUsage(
            tag=tag,
            count=int(total),
            entity_types=sorted({names[int(k)] for k in str(kinds).split(",")}),
        )
        for tag, total, kinds in rows
    ]


# --- reads --------------------------------------------------------------------------------


def ensure_registered(user, tags: list[str]) -> dict[str, UserTag]:
    """The user's registry rows for `tags`, creating the missing ones (two queries when none
    are missing, four otherwise; concurrent creators are tolerated)."""
    if not tags:
        return {}
    rows = {row.tag: row for row in UserTag.objects.filter(user=user, tag__in=tags)}
    missing = [tag for tag in tags if tag not in rows]
    if missing:
        UserTag.objects.bulk_create(
            [UserTag(user=user, tag=tag) for tag in missing], ignore_conflicts=True
        )
        rows.update({row.tag: row for row in UserTag.objects.filter(user=user, tag__in=missing)})
    return rows


@dataclass
class PopularTag(TagUsage):
    id: int | None = None
    color: str | None = None


def popular_tags(user, *, limit: int, entity_types: list[str] | None = None) -> list[PopularTag]:
    """The most used tags on records the user may see, then the user's registered tags that
    no such record carries (count 0), `limit` in all. Each has a registry row of the user
    (created here when missing), whose id the web app uses to set the tag's colour.

    Unused tags come newest registered first: after creating a tag the web app looks for it
    by name in this list to colour it, so a new tag must not fall behind older ones."""
    models = models_named(entity_types)
    used = count_tags(user, models, limit=limit)
    used_names = {usage.tag for usage in used}
    unused: list[str] = []
    if len(used) < limit:
        unused = list(
            UserTag.objects.filter(user=user)
            .exclude(tag__in=used_names)
            .order_by("-id")
            .values_list("tag", flat=True)[: limit - len(used)]
        )
    ordered = [*used, *(TagUsage(tag=name) for name in unused)]
    rows = ensure_registered(user, [usage.tag for usage in ordered])
    return [
        PopularTag(
            tag=usage.tag,
            count=usage.count,
            entity_types=usage.entity_types,
            id=rows[usage.tag].pk,
            color=rows[usage.tag].color or None,
        )
        for usage in ordered
        if usage.tag in rows
    ]


def suggest_tags(user, *, limit: int, entity_type: str | None = None) -> list[str]:
    """Tag names for a record form: the most used on records the user may see (of that type
    when given), then the user's other registered tags, newest first."""
    models = models_named([entity_type] if entity_type else None, "entity_type")
    used = [usage.tag for usage in count_tags(user, models, limit=limit)]
    if len(used) < limit:
        used += list(
            UserTag.objects.filter(user=user)
            .exclude(tag__in=used)
            .order_by("-id")
            .values_list("tag", flat=True)[: limit - len(used)]
        )
    return used


def autocomplete_tags(user, *, query: str, limit: int) -> list[str]:
    """Tags containing `query` (matched as a tag would be stored: lower case, spaces as
    dashes): those that start with it first, then the others; within each, the most used
    first, then by name. From the user's registry and records the user may see only."""
    needle = "-".join(query.strip().lower().split())
    if not needle:
        return []
    usage = {
        row.tag: row.count
        for row in count_tags(user, tagged_models(), limit=None, containing=needle)
    }
    for name in UserTag.objects.filter(user=user, tag__contains=needle).values_list(
        "tag", flat=True
    ):
        usage.setdefault(name, 0)
    ranked = sorted(usage, key=lambda tag: (not tag.startswith(needle), -usage[tag], tag))
    return ranked[:limit]


def search_record_ids(
    user,
    *,
    patient_id: int,
    tags: list[str],
    match_all: bool,
    models: list[type[TaggedMixin]],
    limit_per_type: int,
) -> dict[type[TaggedMixin], list[int]]:
    """Ids of the patient's records (visible to `user`) carrying any/all of `tags`, newest
    entered first, at most `limit_per_type` per type; every type in `models` is a key. One query."""
    result: dict[type[TaggedMixin], list[int]] = {model: [] for model in models}
    if not models or not tags:
        return result
    conditions = [Q(tag_index__contains=f",{tag},") for tag in tags]
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = (combined & condition) if match_all else (combined | condition)
    alias = models[0].objects.db
    parts, params = [], []
    for position, model in enumerate(models):
        records_sql, records_params = _subquery_sql(
            model.objects.visible_to(user)
            .filter(patient_id=patient_id)
            .filter(combined)
            .order_by("-id")
            .values("id")[:limit_per_type]
        )
        # The ordered, limited select is wrapped so that SQLite accepts it inside a union.
        parts.append(f"SELECT {position} AS k, s.id FROM ({records_sql}) s")
        params += records_params
    with connections[alias].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    # A union promises no order: each type's ids are put back newest entered first.
    for position, record_id in sorted(rows, key=lambda row: -row[1]):
        result[models[int(position)]].append(record_id)
    return result


# --- writes ---------------------------------------------------------------------------------


def register_tag(user, tag: str) -> UserTag:
    """Adds `tag` (normalised) to the user's registry; an existing entry is returned as is."""
    name = normalise_tag(tag)
    row, _ = UserTag.objects.get_or_create(user=user, tag=name)
    return row


def set_tag_color(user, tag_id: int, color: str | None) -> UserTag:
    """Sets (or with None clears) the colour of one of the user's tags; another user's tag
    id is DoesNotExist, as an unknown one."""
    row = UserTag.objects.get(pk=tag_id, user=user)
    row.color = (color or "").lower()
    row.full_clean(exclude=["user"])
    row.save(update_fields=["color"])
    return row


def _changed_tags(tags: list, old: str, new: str | None) -> list[str]:
    """The record's tags with `old` replaced by `new` in place (dropped when `new` is None or
    already there)."""
    result: list[str] = []
    for tag in tags:
        value = new if tag == old else tag
        if value is not None and value not in result:
            result.append(value)
    return result


def _write_tags(model, changes: list[tuple[int, list[str]]], now) -> None:
    """Writes (pk, tags) pairs with their tag mirror and `now` as updated_at: one
    parameterised UPDATE run for every record (executemany). bulk_update writes one CASE over
    a batch's ids per column, which SQLite evaluates row by row: 5.6 s for 4,500 records
    against well under a second this way. Values are converted by the fields themselves, as
    the ORM would."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    tags, mirror, updated = (meta.get_field(name) for name in ("tags", "tag_index", "updated_at"))
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {quote(tags.column)} = %s, "
        f"{quote(mirror.column)} = %s, {quote(updated.column)} = %s "
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    stamp = updated.get_db_prep_save(now, connection)
    rows = [
        (
            tags.get_db_prep_save(values, connection),
            f",{','.join(values)}," if values else "",
            stamp,
            pk,
        )
        for pk, values in changes
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _reindex(model, ids: list[int]) -> None:
    # Writes without save() send no signal: the search index is told which records changed,
    # inside this transaction (issue 16 design note).
    reindex(model, ids)


@transaction.atomic
def change_tag(user, *, old: str, new: str | None) -> int:
    """Renames `old` to `new` (merging where a record already has `new`), or removes `old`
    when `new` is None, on every record of every tagged type that `user` may edit. All or
    nothing; returns the number of records changed. The user's registry follows."""
    now = timezone.now()
    updated = 0
    for model in tagged_models():
        # Locked until the end of the transaction (PostgreSQL): a record edited meanwhile
        # cannot lose that edit to this one.
        candidates = (
            model.objects.editable_by(user)
            .filter(tag_index__contains=f",{old},")
            .select_for_update()
            .order_by("pk")
            .values_list("pk", "tags")
        )
        changes = []
        for pk, tags in candidates:
            if not isinstance(tags, list) or old not in tags:
                continue  # the mirror matched a tag that merely contains a comma
            try:
                changes.append((pk, normalise_tags(_changed_tags(tags, old, new))))
            except ValidationError as exc:
                raise ValidationError(
                    f"{model.kind.name} {pk} cannot take this change: {'; '.join(exc.messages)}"
                ) from exc
        if changes:
            _write_tags(model, changes, now)
            _reindex(model, [pk for pk, _ in changes])
            updated += len(changes)
    _follow_in_registry(user, old, new)
    return updated


def _follow_in_registry(user, old: str, new: str | None) -> None:
    """The user's registry after a rename (the old row renamed, or merged into an existing
    row of the new name, which keeps its colour or takes the old one when it had none) or a
    delete (the row removed)."""
    rows = {row.tag: row for row in UserTag.objects.filter(user=user, tag__in=[old, new or old])}
    previous, target = rows.get(old), rows.get(new) if new else None
    if new is None:
        if previous:
            previous.delete()
        return
    if previous and target:
        if not target.color and previous.color:
            target.color = previous.color
            target.save(update_fields=["color"])
        previous.delete()
    elif previous:
        previous.tag = new
        previous.save(update_fields=["tag"])
    elif not target:
        UserTag.objects.bulk_create([UserTag(user=user, tag=new)], ignore_conflicts=True)
