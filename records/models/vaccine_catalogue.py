"""The vaccine catalogue: standardized vaccine types behind the immunization form's picker.

Rows come from records/data/vaccines.json (loaded by `manage.py load_reference_data`, see
records/loaders/vaccine_catalogue.py) and may be added or retired by admins. Immunizations link
to an entry (standardized_vaccine, SET_NULL) and the history view expands each immunization to
the diseases its vaccine covers (`VaccineMatcher`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

__all__ = ["StandardizedVaccine", "VaccineCategory", "VaccineMatcher"]

WHO_CODE_MAX_LENGTH = 100
MAX_NAMES = 50
MAX_NAME_LENGTH = 200
# Marks common and brand names inside search_text, so a search can rank "a common or brand
# name starts with the query" above "the query appears somewhere".
ALIAS_MARK = "|@"


class VaccineCategory(models.TextChoices):
    VIRAL = "Viral", "Viral"
    BACTERIAL = "Bacterial", "Bacterial"
    COMBINED = "Combined", "Combined"
    TOXOID = "Toxoid", "Toxoid"
    PARASITIC = "Parasitic", "Parasitic"
    OTHER = "Other", "Other"


def name_key(text: str | None) -> str:
    """How names are compared: case-insensitive, spaces collapsed."""
    return re.sub(r"\s+", " ", (text or "").strip()).casefold()


def _clean_names(value, field: str, errors: dict) -> list[str]:
    """A list of distinct, stripped, non-empty names (duplicates differing in case dropped)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors[field] = "Give a list of names (text)."
        return value
    names: list[str] = []
    seen: set[str] = set()
    for item in value:
        name = re.sub(r"\s+", " ", item.strip())
        if name and name_key(name) not in seen:
            seen.add(name_key(name))
            names.append(name)
    if len(names) > MAX_NAMES:
        errors[field] = f"At most {MAX_NAMES} names."
    elif any(len(name) > MAX_NAME_LENGTH for name in names):
        errors[field] = f"Each name has at most {MAX_NAME_LENGTH} characters."
    return names


class StandardizedVaccineQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def by_who_code(self, code: str | None) -> StandardizedVaccine | None:
        """The entry with this WHO code (case-insensitive; an exact-case match wins)."""
        code = (code or "").strip() if isinstance(code, str) else ""
        if not code or len(code) > WHO_CODE_MAX_LENGTH:
            return None
        found = sorted(self.filter(who_code__iexact=code), key=lambda v: v.who_code != code)
        return found[0] if found else None


class StandardizedVaccine(models.Model):
    """A vaccine type: its WHO prequalification type code (when WHO lists the type), names,
    and the diseases it protects against (`components`; a combined vaccine covers several).

    `search_text` is derived on save: the names, code and components, lower-cased, for LIKE
    searches; common and brand names carry ALIAS_MARK so searches can rank them.
    """

    who_code = models.CharField(
        "WHO code",
        max_length=WHO_CODE_MAX_LENGTH,
        unique=True,
        null=True,
        blank=True,
        help_text="WHO PreQualVaccineType code; empty for vaccines WHO does not list.",
    )
    vaccine_name = models.CharField(max_length=255)
    short_name = models.CharField(max_length=100, blank=True)
    category = models.CharField(
        max_length=20, choices=VaccineCategory.choices, default=VaccineCategory.OTHER
    )
    common_names = models.JSONField(default=list, blank=True)
    brand_names = models.JSONField(default=list, blank=True)
    # Required (at least one), checked in clean() with a message of its own.
    components = models.JSONField(
        default=list,
        blank=True,
        help_text="Diseases the vaccine protects against, e.g. Measles, Mumps.",
    )
    default_manufacturer = models.CharField(max_length=100, blank=True)
    is_combined = models.BooleanField(default=False)
    is_common = models.BooleanField(default=False, help_text="Offered first in the picker.")
    display_order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(
        default=True, help_text="Retired entries disappear from searches and new links."
    )
    search_text = models.TextField(editable=False, blank=True)

    objects = StandardizedVaccineQuerySet.as_manager()

    class Meta:
        ordering = ["display_order", "vaccine_name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("vaccine_name"),
                name="records_std_vaccine_name_unique",
                violation_error_message="A vaccine with this name already exists.",
            ),
        ]
        indexes = [
            models.Index(fields=["category", "display_order"], name="records_std_vaccine_cat"),
            models.Index(fields=["is_common", "display_order"], name="records_std_vaccine_common"),
        ]

    def __str__(self) -> str:
        return self.vaccine_name

    def save(self, *args, **kwargs):
        self.who_code = (self.who_code or "").strip() or None
        self.search_text = self.build_search_text()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def aliases(self) -> list[str]:
        return [*self.common_names, *self.brand_names]

    def build_search_text(self) -> str:
        parts = [self.vaccine_name, self.short_name, self.who_code or ""]
        text = "|".join(part for part in parts if part)
        text += "".join(f"{ALIAS_MARK}{alias}" for alias in self.aliases)
        text += "".join(f"|{component}" for component in self.components)
        return text.lower()

    def clean(self):
        super().clean()
        errors: dict[str, str] = {}
        self.vaccine_name = re.sub(r"\s+", " ", (self.vaccine_name or "").strip())
        self.short_name = (self.short_name or "").strip()
        self.who_code = (self.who_code or "").strip() or None
        if "/" in self.vaccine_name:
            # The name is a path segment of /standardized-vaccines/by-name/{name}.
            errors["vaccine_name"] = "The name cannot contain '/'."
        self.common_names = _clean_names(self.common_names, "common_names", errors)
        self.brand_names = _clean_names(self.brand_names, "brand_names", errors)
        self.components = _clean_names(self.components, "components", errors)
        if "components" not in errors:
            if not self.components:
                errors["components"] = "Name at least one disease the vaccine protects against."
            elif self.is_combined and len(self.components) < 2:
                errors["components"] = "A combined vaccine covers at least two diseases."
        if errors:
            raise ValidationError(errors)


class VaccineMatcher:
    """Resolves immunizations to catalogue entries in memory: built from one query, then no
    query per record.

    An immunization matches its linked entry; otherwise its vaccine name (then its trade name)
    is compared, case-insensitively, with the entries' names, then common and brand names, then
    short names. Where two entries share a name the one listed first (display order) wins.
    """

    def __init__(self, vaccines: Iterable[StandardizedVaccine]):
        self.tiers: tuple[dict[str, StandardizedVaccine], ...] = ({}, {}, {})
        by_name, by_alias, by_short = self.tiers
        for vaccine in vaccines:
            by_name.setdefault(name_key(vaccine.vaccine_name), vaccine)
            for alias in vaccine.aliases:
                by_alias.setdefault(name_key(alias), vaccine)
            if vaccine.short_name:
                by_short.setdefault(name_key(vaccine.short_name), vaccine)

    @classmethod
    def from_catalogue(cls) -> VaccineMatcher:
        return cls(StandardizedVaccine.objects.active())

    def match(self, immunization) -> StandardizedVaccine | None:
        if immunization.standardized_vaccine_id is not None:
            return immunization.standardized_vaccine
        for text in (immunization.vaccine_name, immunization.vaccine_trade_name):
            key = name_key(text)
            if not key:
                continue
            for tier in self.tiers:
                if key in tier:
                    return tier[key]
        return None
