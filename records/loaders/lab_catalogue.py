"""The lab-test catalogue's data file and the services around it.

- `load()` reads records/data/lab_tests.json into StandardizedTest, idempotently: entries are
  matched to rows by LOINC code, new ones inserted and changed ones updated in bulk (the file
  is the authority for the fields it holds), unchanged ones left alone. Rows added by admins,
  and `is_active`, are never touched. One run is one transaction of a few queries.
- `catalogue_info()` tells what the file and the database hold (the maintenance endpoint).
- `sync_components()` re-links lab components to the catalogue (their canonical names).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from records.models import LabTestComponent, StandardizedTest, StandardizedTestLoad
from records.models.lab_catalogue import catalogue_index, invalidate_catalogue_index
from records.search.index import reindex

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "lab_tests.json"

# The fields the data file sets; is_active and the derived search_text are not among them.
FILE_FIELDS = (
    "loinc_code",
    "test_name",
    "short_name",
    "default_unit",
    "category",
    "common_names",
    "is_common",
    "display_order",
    "result_type",
)
REQUIRED_FIELDS = ("loinc_code", "test_name", "category")
SYNC_BATCH_SIZE = 500


class CatalogueFileError(ValueError):
    """The data file is unreadable, holds an invalid entry, or clashes with the database."""


@dataclass(frozen=True)
class CatalogueFile:
    version: str
    checksum: str
    entries: list[dict]


def read_file(path: Path | None = None) -> CatalogueFile:
    """The data file's version, SHA-256 checksum and raw entries."""
    path = path or DATA_FILE
    try:
        raw = Path(path).read_bytes()
        document = json.loads(raw.decode("utf-8"))
        entries = document["tests"]
        version = str(document.get("version") or "")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CatalogueFileError(
            f"Cannot read the lab-test catalogue {Path(path).name}: {exc}"
        ) from exc
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CatalogueFileError(f"{Path(path).name}: 'tests' must be a list of objects.")
    return CatalogueFile(version, hashlib.sha256(raw).hexdigest(), entries)


def build(entry: dict, position: int) -> StandardizedTest:
    """An unsaved, validated row for one entry (validation without queries)."""
    label = entry.get("loinc_code") or f"#{position}"
    unknown = set(entry) - set(FILE_FIELDS)
    missing = [name for name in REQUIRED_FIELDS if not entry.get(name)]
    if unknown or missing:
        problem = f"unknown fields {sorted(unknown)}" if unknown else f"missing {missing}"
        raise CatalogueFileError(f"Test {label}: {problem}.")
    if not isinstance(entry.get("is_common", False), bool):
        raise CatalogueFileError(f"Test {label}: is_common must be true or false.")
    order = entry.get("display_order", 0)
    if not isinstance(order, int) or isinstance(order, bool):
        raise CatalogueFileError(f"Test {label}: display_order must be a whole number.")
    values = {name: entry[name] for name in FILE_FIELDS if name in entry}
    for name in ("short_name", "default_unit"):
        values[name] = values.get(name) or ""
    test = StandardizedTest(**values)
    try:
        test.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise CatalogueFileError(f"Test {label}: {exc.message_dict}") from exc
    test.search_text = test.build_search_text()
    return test


def build_all(entries: list[dict]) -> list[StandardizedTest]:
    """Every entry built and checked, and no code, name or short name used twice."""
    tests = [build(entry, position) for position, entry in enumerate(entries, 1)]
    for label, key in (
        ("LOINC code", lambda t: t.loinc_code),
        ("name", lambda t: t.test_name.lower()),
        ("short name", lambda t: t.short_name.lower()),
    ):
        seen: set[str] = set()
        for test in tests:
            value = key(test)
            if value and value in seen:
                raise CatalogueFileError(f"Two tests share the {label} {value!r}.")
            seen.add(value)
    return tests


def load(stdout=None, path: Path | None = None) -> dict:
    """Loads the catalogue idempotently; returns what it did:
    {"version", "total", "created", "updated", "unchanged"}."""
    file = read_file(path)
    wanted = build_all(file.entries)
    synced = (*FILE_FIELDS, "search_text")
    codes = {test.loinc_code for test in wanted}
    names = {test.test_name.lower() for test in wanted}
    with transaction.atomic():
        # The whole table (hundreds of rows): one query, and no IN list to outgrow.
        rows = list(StandardizedTest.objects.all())
        existing = {row.loinc_code: row for row in rows}
        # A hand-made entry (another code) holding a name the file now uses would make the
        # insert fail on the unique name; say which instead.
        clashes = [
            row for row in rows if row.loinc_code not in codes and row.test_name.lower() in names
        ]
        if clashes:
            listed = ", ".join(f"{row.loinc_code} {row.test_name!r}" for row in clashes[:5])
            raise CatalogueFileError(
                f"Entries added by hand use names the catalogue file gives other codes: {listed}."
            )
        to_create, to_update = [], []
        for test in wanted:
            row = existing.get(test.loinc_code)
            if row is None:
                to_create.append(test)
            elif any(getattr(row, name) != getattr(test, name) for name in synced):
                for name in synced:
                    setattr(row, name, getattr(test, name))
                to_update.append(row)
        try:
            StandardizedTest.objects.bulk_create(to_create, batch_size=500)
            StandardizedTest.objects.bulk_update(to_update, synced, batch_size=500)
        except IntegrityError as exc:
            raise CatalogueFileError(
                f"The catalogue file clashes with the database: {exc}"
            ) from exc
        counts = {
            "created": len(to_create),
            "updated": len(to_update),
            "unchanged": len(wanted) - len(to_create) - len(to_update),
        }
        StandardizedTestLoad.objects.create(version=file.version, checksum=file.checksum, **counts)
    # Bulk writes send no signals: tell the component matcher itself.
    invalidate_catalogue_index()
    return {"version": file.version, "total": len(wanted), **counts}


def catalogue_info(path: Path | None = None) -> dict:
    """What the database holds (active entries, per category, the last load) and what the
    file on disk holds, and whether a reload would change anything."""
    path = path or DATA_FILE
    latest = StandardizedTestLoad.objects.first()
    active = StandardizedTest.objects.active().order_by()
    totals = active.aggregate(total=Count("id"), common=Count("id", filter=Q(is_common=True)))
    categories = dict(active.values_list("category").annotate(n=Count("id")).order_by("category"))
    try:
        file = read_file(path)
        on_disk = {
            "name": Path(path).name,
            "version": file.version,
            "checksum": file.checksum,
            "test_count": len(file.entries),
            "error": None,
        }
    except CatalogueFileError as exc:
        on_disk = {
            "name": Path(path).name,
            "version": None,
            "checksum": None,
            "test_count": None,
            "error": str(exc),
        }
    return {
        "version": latest.version if latest else None,
        "checksum": latest.checksum if latest else None,
        "last_loaded_at": latest.loaded_at if latest else None,
        "test_count": totals["total"],
        "common_count": totals["common"],
        "categories": categories,
        "file": on_disk,
        "reload_needed": on_disk["checksum"] is not None
        and (latest is None or latest.checksum != on_disk["checksum"]),
    }


def reload_catalogue(path: Path | None = None) -> dict:
    """Re-reads the data file into the database (see `load`) and reports the result."""
    counts = load(path=path)
    return {
        "success": True,
        "version": counts["version"],
        "test_count": StandardizedTest.objects.active().count(),
        "created": counts["created"],
        "updated": counts["updated"],
        "unchanged": counts["unchanged"],
        "message": "Test library reloaded successfully",
    }


def sync_components(*, force_all: bool = False, batch_size: int = SYNC_BATCH_SIZE) -> dict:
    """Re-links lab components to the catalogue.

    Each component's canonical name becomes the short name of the entry its code or name
    matches (blank when none does); a component without a category takes the entry's.
    Without `force_all` only components without a canonical name are looked at (new
    entries may match them now); with it, every component, so names that no longer match
    are cleared. Works in batches of `batch_size`, each its own transaction, with two
    queries per batch; no record-change events are sent (the fields are derived).
    """
    index = catalogue_index()
    components = LabTestComponent.objects.order_by("pk")
    if not force_all:
        components = components.filter(canonical_test_name="")
    # Ids first: rows are updated while we go, and some databases (SQLite) do not isolate a
    # running read from writes to the same table.
    ids = list(components.values_list("pk", flat=True))
    names_updated = categories_updated = 0
    for start in range(0, len(ids), batch_size):
        changed, chunk = [], ids[start : start + batch_size]
        rows = LabTestComponent.objects.filter(pk__in=chunk).only(
            "pk", "test_name", "test_code", "canonical_test_name", "category"
        )
        for component in rows:
            found = index.match(component.test_name, component.test_code)
            name = found.entry.canonical_name if found else ""
            touched = False
            if component.canonical_test_name != name:
                component.canonical_test_name = name
                names_updated += 1
                touched = True
            if found and not component.category:
                component.category = found.entry.category
                categories_updated += 1
                touched = True
            if touched:
                changed.append(component)
        with transaction.atomic():
            LabTestComponent.objects.bulk_update(changed, ["canonical_test_name", "category"])
            # The canonical name is searched; bulk_update sends no post_save.
            reindex(LabTestComponent, [component.pk for component in changed])
    return {
        "success": True,
        "components_processed": len(ids),
        "canonical_names_updated": names_updated,
        "categories_updated": categories_updated,
        "message": f"Successfully synced {len(ids)} components",
    }
