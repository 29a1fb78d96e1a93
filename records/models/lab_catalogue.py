"""The lab-test catalogue: standardized (LOINC) tests behind lab-result and component names.

Rows come from records/data/lab_tests.json, a file this project compiles itself, loaded by
`manage.py load_reference_data` (records/loaders/lab_catalogue.py); admins may add, change or
retire entries. Lab components are linked to the catalogue by name: `match_test()` gives the
entry a component's code or name stands for, and its short name becomes the component's
`canonical_test_name`, the name trends and statistics group by.

Matching runs against an in-memory index of the active entries (a few hundred), built with one
query and kept per process until the catalogue changes: every change bumps a stamp in the
shared cache, so all workers rebuild their copy on their next lookup. Saving a hundred
components therefore costs at most one catalogue query, not one per component.
"""

from __future__ import annotations

import re
import uuid
from contextlib import suppress
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from records.models.labs import LabTestComponentCategory

__all__ = [
    "StandardizedTest",
    "StandardizedTestCategory",
    "StandardizedTestLoad",
    "StandardizedTestResultType",
]

MAX_COMMON_NAMES = 50
MAX_COMMON_NAME_LENGTH = 100
LOINC_CODE_MAX_LENGTH = 20
_LOINC_FORMAT = re.compile(r"^(\d{1,7})-(\d)$")

# One vocabulary for the catalogue and for lab components, so a component can take its
# category straight from the entry it matches.
StandardizedTestCategory = LabTestComponentCategory


class StandardizedTestResultType(models.TextChoices):
    QUANTITATIVE = "quantitative", "Quantitative"
    QUALITATIVE = "qualitative", "Qualitative"
    TEXTUAL = "textual", "Textual (narrative or panel)"


# --- LOINC codes ----------------------------------------------------------------------------


def loinc_check_digit(body: str) -> int:
    """The mod-10 check digit LOINC puts after the hyphen, computed from the part before it.

    LOINC's own description: from the right, double the digits in odd positions, add the
    digits of those products to the digits in even positions, and take what the sum lacks to
    reach the next multiple of ten (the Luhn scheme). 2345 → 7, as in 2345-7.
    """
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_loinc(code: str | None) -> bool:
    match = _LOINC_FORMAT.match(code or "")
    return bool(match) and loinc_check_digit(match.group(1)) == int(match.group(2))


def validate_loinc_code(value: str) -> None:
    match = _LOINC_FORMAT.match(value or "")
    if not match:
        raise ValidationError("A LOINC code is digits, a hyphen and a check digit, e.g. 2345-7.")
    if loinc_check_digit(match.group(1)) != int(match.group(2)):
        raise ValidationError(
            f"{value} is not a LOINC code: its check digit should be "
            f"{loinc_check_digit(match.group(1))}."
        )


# --- names ------------------------------------------------------------------------------------


def match_key(text: str | None) -> str:
    """How names are compared when matching: case-insensitive, punctuation and spacing
    ignored ("C-Reactive Protein" = "c reactive protein"), but % and # kept, since
    "Neutrophils %" and "Neutrophils #" are different tests."""
    text = re.sub(r"[^\w%#+]+", " ", (text or "").casefold()).replace("_", " ")
    return " ".join(text.split())


def _clean_text(value: str | None) -> str:
    return " ".join((value or "").split())


def _clean_common_names(value, errors: dict) -> list[str]:
    """Distinct, trimmed, non-empty names (a repeat differing only in case is dropped)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors["common_names"] = "Give a list of names (text)."
        return value
    names: list[str] = []
    seen: set[str] = set()
    for item in value:
        name = _clean_text(item)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    if len(names) > MAX_COMMON_NAMES:
        errors["common_names"] = f"At most {MAX_COMMON_NAMES} common names."
    elif any(len(name) > MAX_COMMON_NAME_LENGTH for name in names):
        errors["common_names"] = (
            f"Each common name has at most {MAX_COMMON_NAME_LENGTH} characters."
        )
    return names


# --- models ---------------------------------------------------------------------------------


class StandardizedTestQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class StandardizedTest(models.Model):
    """One standardized test: its LOINC code and long name, a short display name (the
    canonical name lab components take), the usual unit, a category, the common names and
    abbreviations people use for it, and whether results are numbers, findings or text.

    `search_text` is derived on save (code, names and common names, lower-cased) so searches
    are one LIKE over one column.
    """

    loinc_code = models.CharField(
        "LOINC code",
        max_length=LOINC_CODE_MAX_LENGTH,
        unique=True,
        validators=[validate_loinc_code],
        help_text="e.g. 2345-7; the digit after the hyphen is LOINC's mod-10 check digit.",
    )
    test_name = models.CharField(max_length=255, help_text="The LOINC long name.")
    short_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="The everyday name; lab components matching this test take it as their "
        "canonical name.",
    )
    default_unit = models.CharField(max_length=50, blank=True)
    category = models.CharField(
        max_length=20,
        choices=StandardizedTestCategory.choices,
        default=StandardizedTestCategory.OTHER,
    )
    common_names = models.JSONField(
        default=list, blank=True, help_text="Other names and abbreviations (WBC, Blood sugar)."
    )
    is_common = models.BooleanField(default=False, help_text="Offered first in pickers.")
    display_order = models.PositiveIntegerField(default=0)
    result_type = models.CharField(
        max_length=20,
        choices=StandardizedTestResultType.choices,
        default=StandardizedTestResultType.QUANTITATIVE,
    )
    is_active = models.BooleanField(
        default=True, help_text="Retired entries disappear from searches and matching."
    )
    search_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StandardizedTestQuerySet.as_manager()

    class Meta:
        ordering = ["display_order", "test_name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("test_name"),
                name="records_stdtest_name_unique",
                violation_error_message="A test with this name already exists.",
            ),
        ]
        indexes = [
            models.Index(fields=["category", "display_order"], name="records_stdtest_category"),
            models.Index(fields=["is_common", "display_order"], name="records_stdtest_common"),
            models.Index(fields=["short_name"], name="records_stdtest_short_name"),
        ]

    def __str__(self) -> str:
        return f"{self.loinc_code} {self.short_name or self.test_name}"

    def save(self, *args, **kwargs):
        self.search_text = self.build_search_text()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def canonical_name(self) -> str:
        return self.short_name or self.test_name

    def build_search_text(self) -> str:
        parts = [self.loinc_code, self.test_name, self.short_name, *(self.common_names or [])]
        return "|".join(part for part in parts if part).lower()

    def clean(self):
        super().clean()
        errors: dict[str, str] = {}
        self.loinc_code = (self.loinc_code or "").strip()
        self.test_name = _clean_text(self.test_name)
        self.short_name = _clean_text(self.short_name)
        self.default_unit = (self.default_unit or "").strip()
        if not self.test_name:
            errors["test_name"] = "Give the test's name."
        self.common_names = _clean_common_names(self.common_names, errors)
        if errors:
            raise ValidationError(errors)


class StandardizedTestLoad(models.Model):
    """One run of the catalogue loader: which file (version, checksum) and what it changed.
    The latest row tells the maintenance endpoints what the database holds."""

    version = models.CharField(max_length=50, blank=True)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the data file.")
    loaded_at = models.DateTimeField(auto_now_add=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-loaded_at", "-id"]
        get_latest_by = ["loaded_at", "id"]

    def __str__(self) -> str:
        return f"lab catalogue {self.version or '?'} loaded {self.loaded_at:%Y-%m-%d %H:%M}"


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueEntry:
    """What matching needs of an entry, held in memory."""

    id: int
    loinc_code: str
    test_name: str
    short_name: str
    category: str
    default_unit: str
    common_names: tuple[str, ...]
    is_common: bool
    display_order: int

    @property
    def canonical_name(self) -> str:
        return self.short_name or self.test_name


@dataclass(frozen=True)
class CatalogueMatch:
    entry: CatalogueEntry
    # "code", "name" (the long name), "short_name" or "synonym" (a common name).
    matched_by: str


class CatalogueIndex:
    """The active entries by LOINC code and by every name they go by.

    A name claimed by several entries goes to the strongest claim: a long name beats a short
    name, which beats a common name; between equal claims the common test, then the one
    listed first, wins.
    """

    FIELDS = (
        "id",
        "loinc_code",
        "test_name",
        "short_name",
        "category",
        "default_unit",
        "common_names",
        "is_common",
        "display_order",
    )

    def __init__(self, entries: list[CatalogueEntry]):
        self.entries = sorted(entries, key=lambda e: (not e.is_common, e.display_order, e.id))
        self.by_code = {entry.loinc_code.upper(): entry for entry in self.entries}
        self.by_name: dict[str, CatalogueMatch] = {}
        for kind, names_of in (
            ("name", lambda e: [e.test_name]),
            ("short_name", lambda e: [e.short_name]),
            ("synonym", lambda e: e.common_names),
        ):
            for entry in self.entries:
                for name in names_of(entry):
                    key = match_key(name)
                    if key:
                        self.by_name.setdefault(key, CatalogueMatch(entry, kind))

    @classmethod
    def from_database(cls) -> CatalogueIndex:
        rows = StandardizedTest.objects.active().order_by().values_list(*cls.FIELDS)
        entries = []
        for row in rows:
            values = dict(zip(cls.FIELDS, row, strict=True))
            values["common_names"] = tuple(
                name for name in values["common_names"] or () if isinstance(name, str)
            )
            entries.append(CatalogueEntry(**values))
        return cls(entries)

    def match(self, test_name: str | None, test_code: str | None = None) -> CatalogueMatch | None:
        code = (test_code or "").strip().upper()
        if code and code in self.by_code:
            return CatalogueMatch(self.by_code[code], "code")
        typed = (test_name or "").strip().upper()
        if typed in self.by_code:  # a LOINC code typed as the name
            return CatalogueMatch(self.by_code[typed], "code")
        key = match_key(test_name)
        return self.by_name.get(key) if key else None


_STAMP_KEY = "records:lab-catalogue:stamp"
_local: tuple[str | None, CatalogueIndex | None] = (None, None)


def catalogue_index() -> CatalogueIndex:
    """The index of the active entries, rebuilt (one query) only after the catalogue
    changed. Without a shared cache (DummyCache) it is rebuilt on every call."""
    global _local
    try:
        stamp = cache.get(_STAMP_KEY)
        if stamp is None:
            cache.add(_STAMP_KEY, uuid.uuid4().hex, timeout=None)
            stamp = cache.get(_STAMP_KEY)
    except Exception:
        # The shared cache (Redis) is unreachable: rebuild every time rather than fail, and
        # keep no stamp, so nothing stale is served once it answers again.
        stamp = None
    cached_stamp, index = _local
    if stamp is not None and stamp == cached_stamp and index is not None:
        return index
    index = CatalogueIndex.from_database()
    _local = (stamp, index)
    return index


def invalidate_catalogue_index() -> None:
    """Makes every process rebuild its index on its next lookup. Bumped now (this process
    sees its own uncommitted change) and again after commit, so that a process that rebuilt
    in between from the old rows does not keep them."""

    def bump():
        # Unreachable: this process rebuilds until it answers (above); others see a change
        # made meanwhile at the next change or restart.
        with suppress(Exception):
            cache.set(_STAMP_KEY, uuid.uuid4().hex, timeout=None)

    bump()
    transaction.on_commit(bump)


def match_test(test_name: str | None, test_code: str | None = None) -> CatalogueMatch | None:
    """The active entry a lab component's code or name stands for, if any: its LOINC code
    first, then its name against the entries' long, short and common names."""
    return catalogue_index().match(test_name, test_code)


@receiver(post_save, sender=StandardizedTest)
@receiver(post_delete, sender=StandardizedTest)
def _catalogue_changed(sender, **kwargs):
    invalidate_catalogue_index()
