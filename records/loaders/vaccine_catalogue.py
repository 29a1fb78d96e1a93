"""Loads records/data/vaccines.json into StandardizedVaccine, idempotently.

Entries are matched to rows by WHO code, then by name (case-insensitive). New entries are
inserted, changed ones updated (the file is the authority for the fields it holds), unchanged
ones left alone; rows added by admins and `is_active` are never touched. A run is one
transaction of a few queries: one read, one bulk insert, one bulk update.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from records.models import StandardizedVaccine

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "vaccines.json"

# The fields the data file sets; is_active and the derived search_text are not among them.
FILE_FIELDS = (
    "who_code",
    "vaccine_name",
    "short_name",
    "category",
    "common_names",
    "brand_names",
    "components",
    "default_manufacturer",
    "is_combined",
    "is_common",
    "display_order",
)


class CatalogueFileError(ValueError):
    """The data file is unreadable or holds an invalid entry."""


def read_entries(path: Path = DATA_FILE) -> list[dict]:
    """The raw entries of the data file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = document["vaccines"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CatalogueFileError(f"Cannot read the vaccine catalogue {path}: {exc}") from exc
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CatalogueFileError(f"{path}: 'vaccines' must be a list of objects.")
    return entries


def build(entry: dict, position: int) -> StandardizedVaccine:
    """An unsaved, validated row for one entry (validation without queries)."""
    unknown = set(entry) - set(FILE_FIELDS)
    if unknown:
        raise CatalogueFileError(f"Vaccine #{position}: unknown fields {sorted(unknown)}.")
    values = {name: entry[name] for name in FILE_FIELDS if name in entry}
    values["default_manufacturer"] = values.get("default_manufacturer") or ""
    vaccine = StandardizedVaccine(**values)
    try:
        vaccine.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        label = entry.get("vaccine_name") or f"#{position}"
        raise CatalogueFileError(f"Vaccine {label}: {exc.message_dict}") from exc
    vaccine.search_text = vaccine.build_search_text()
    return vaccine


def build_all(entries: list[dict]) -> list[StandardizedVaccine]:
    vaccines = [build(entry, position) for position, entry in enumerate(entries, 1)]
    for label, key in (
        ("name", lambda v: v.vaccine_name.lower()),
        ("WHO code", lambda v: v.who_code),
    ):
        seen: set = set()
        for vaccine in vaccines:
            value = key(vaccine)
            if value is not None and value in seen:
                raise CatalogueFileError(f"Two vaccines share the {label} {value!r}.")
            seen.add(value)
    return vaccines


def load(stdout=None, path: Path = DATA_FILE) -> dict:
    """Loads the catalogue idempotently; returns counts (created, updated, unchanged)."""
    wanted = build_all(read_entries(path))
    synced = (*FILE_FIELDS, "search_text")
    with transaction.atomic():
        existing = list(StandardizedVaccine.objects.all())
        by_code = {row.who_code: row for row in existing if row.who_code}
        by_name = {row.vaccine_name.lower(): row for row in existing}
        to_create, to_update = [], []
        for vaccine in wanted:
            row = (by_code.get(vaccine.who_code) if vaccine.who_code else None) or by_name.get(
                vaccine.vaccine_name.lower()
            )
            if row is None:
                to_create.append(vaccine)
            elif any(getattr(row, name) != getattr(vaccine, name) for name in synced):
                for name in synced:
                    setattr(row, name, getattr(vaccine, name))
                to_update.append(row)
        try:
            StandardizedVaccine.objects.bulk_create(to_create)
            StandardizedVaccine.objects.bulk_update(to_update, synced)
        except IntegrityError as exc:
            # e.g. an admin gave a hand-made entry a name or code that the file now uses.
            raise CatalogueFileError(
                f"The vaccine catalogue clashes with an entry added by hand: {exc}"
            ) from exc
    counts = {
        "created": len(to_create),
        "updated": len(to_update),
        "unchanged": len(wanted) - len(to_create) - len(to_update),
    }
    return counts
