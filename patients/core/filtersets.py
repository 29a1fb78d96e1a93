"""The filterset base of every patient-owned record type."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q

from patients.core.serializers import match_choice
from patients.models import normalise_tags


class PatientOwnedFilterSet(django_filters.FilterSet):
    """Subclasses declare their contract filters. `search_fields` feeds the `search` hook."""

    search_fields: tuple[str, ...] = ()

    search = django_filters.CharFilter(method="filter_search", help_text="Text search.")

    def filter_search(self, queryset, name, value):
        if not value or not self.search_fields:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)


class TaggedFilterSet(PatientOwnedFilterSet):
    """`tags` (repeat the parameter or separate with commas) and `tag_match_all`."""

    tags = django_filters.CharFilter(method="filter_tags", help_text="Tags to match.")
    tag_match_all = django_filters.BooleanFilter(
        method="keep", help_text="Match all tags (default: any)."
    )

    def keep(self, queryset, name, value):
        return queryset

    def filter_tags(self, queryset, name, value):
        raw = [part for item in self.data.getlist("tags") for part in item.split(",")]
        try:
            wanted = normalise_tags(raw)
        except ValidationError:  # too many or too long to store, still fine to search for
            wanted = [t.strip().lower() for t in raw if t.strip()][:50]
        if not wanted:
            return queryset
        conditions = [Q(tag_index__contains=f",{tag},") for tag in wanted]
        combined = conditions[0]
        for condition in conditions[1:]:
            combined = (
                (combined & condition)
                if self.form.cleaned_data.get("tag_match_all")
                else (combined | condition)
            )
        return queryset.filter(combined)


class LenientChoiceFilter(django_filters.CharFilter):
    """Filters a choice field by a value read as LenientChoiceField reads it."""

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        choices = [key for key, _ in qs.model._meta.get_field(self.field_name).choices]
        return super().filter(qs, match_choice(value, choices))
