"""/standardized-vaccines: the vaccine catalogue (read by everyone signed in, written by admins).

- search (query, category, skip, limit) → {"vaccines": [...], "total": n}, best matches first;
- autocomplete (q or query, at least 2 characters; category, limit) → dropdown suggestions;
- common, by-category/{category}, by-who-code/{code}, by-name/{name}, count;
- plus the catalogue's own list/detail, and create/update/delete for admins.

Only active entries are offered; admins also see retired ones in the list and detail.
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, Value, When
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.exceptions import FieldValidationError
from medikeep.api.pagination import skip_limit
from medikeep.api.representation import FastModelSerializer, FastSerializer
from patients.core.serializers import LenientChoiceField, clean_through_model, match_choice
from records.api.reference_base import CatalogueViewSet
from records.models import StandardizedVaccine, VaccineCategory
from records.models.vaccine_catalogue import ALIAS_MARK, MAX_NAME_LENGTH, MAX_NAMES

SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT = 200, 1000
AUTOCOMPLETE_DEFAULT_LIMIT, AUTOCOMPLETE_MAX_LIMIT = 50, 200
AUTOCOMPLETE_MIN_LENGTH = 2
MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 10


def names_field(**kwargs):
    return serializers.ListField(
        child=serializers.CharField(max_length=MAX_NAME_LENGTH),
        max_length=MAX_NAMES,
        required=False,
        **kwargs,
    )


class StandardizedVaccineSerializer(FastModelSerializer):
    """A catalogue entry. Writes (admins only) are validated by the model (`full_clean`)."""

    category = LenientChoiceField(choices=VaccineCategory.choices, required=False)
    common_names = names_field()
    brand_names = names_field()
    components = names_field(help_text="Diseases covered; at least one, two for a combination.")
    who_code = serializers.CharField(
        max_length=100, required=False, allow_null=True, allow_blank=True
    )
    default_manufacturer = serializers.CharField(
        max_length=100, required=False, allow_null=True, allow_blank=True
    )

    class Meta:
        model = StandardizedVaccine
        fields = [
            "id",
            "who_code",
            "vaccine_name",
            "short_name",
            "category",
            "common_names",
            "brand_names",
            "is_combined",
            "components",
            "default_manufacturer",
            "is_common",
            "display_order",
            "is_active",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["default_manufacturer"] = data["default_manufacturer"] or None
        return data

    def validate(self, attrs):
        if attrs.get("default_manufacturer", "") is None:
            attrs["default_manufacturer"] = ""
        return clean_through_model(StandardizedVaccine, self.instance, attrs)


class VaccineSearchResultSerializer(FastSerializer):
    vaccines = StandardizedVaccineSerializer(many=True)
    total = serializers.IntegerField(help_text="How many entries match (before skip/limit).")


class VaccineSuggestionSerializer(FastSerializer):
    value = serializers.CharField(help_text='What the picker fills in: "Name (SHORT)".')
    label = serializers.CharField()
    who_code = serializers.CharField(allow_null=True)
    short_name = serializers.CharField()
    category = serializers.CharField()
    is_combined = serializers.BooleanField()
    components = serializers.ListField(child=serializers.CharField())


class VaccineCountSerializer(FastSerializer):
    category = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()


def _category_param(required: bool = False):
    return OpenApiParameter(
        "category",
        OpenApiTypes.STR,
        OpenApiParameter.PATH if required else OpenApiParameter.QUERY,
        required=required,
        enum=VaccineCategory.values,
        description="A vaccine category (case-insensitive).",
    )


def _limit_params(default: int, maximum: int) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "limit",
            OpenApiTypes.INT,
            description=f"Items to return (default {default}, at most {maximum}).",
        )
    ]


QUERY_PARAM = OpenApiParameter("query", OpenApiTypes.STR, description="Text to look for.")
SKIP_PARAM = OpenApiParameter("skip", OpenApiTypes.INT, description="Items to skip (default 0).")
AUTOCOMPLETE_PARAMS = [
    OpenApiParameter(
        "q",
        OpenApiTypes.STR,
        description="Text typed so far (at least 2 characters); `query` is accepted too.",
    ),
    QUERY_PARAM,
]


def category_value(raw: str | None, field: str = "category") -> str | None:
    """The stored category a parameter names (case-insensitive); 422 for an unknown one."""
    if raw is None or not raw.strip():
        return None
    value = match_choice(raw, VaccineCategory.values)
    if value not in VaccineCategory.values:
        choices = ", ".join(VaccineCategory.values)
        raise FieldValidationError(field, f"Unknown category {raw!r}; use one of {choices}.")
    return value


def ranked(queryset, text: str):
    """Entries matching `text` (the whole text, or each of its words, anywhere in the names,
    code or diseases), best first: exact name, short name or WHO code; then names starting
    with it; then common or brand names starting with it; then any other match."""
    wanted = text.strip().lower()
    matches = Q(search_text__contains=wanted)
    words = wanted.split()
    if 1 < len(words) <= MAX_QUERY_WORDS:
        every_word = Q()
        for word in words:
            every_word &= Q(search_text__contains=word)
        matches |= every_word
    exact = Q(vaccine_name__iexact=wanted) | Q(short_name__iexact=wanted)
    exact |= Q(who_code__iexact=wanted)
    prefix = Q(vaccine_name__istartswith=wanted) | Q(short_name__istartswith=wanted)
    rank = Case(
        When(exact, then=Value(0)),
        When(prefix, then=Value(1)),
        When(search_text__contains=f"{ALIAS_MARK}{wanted}", then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return (
        queryset.filter(matches)
        .annotate(rank=rank)
        .order_by("rank", "display_order", "vaccine_name", "id")
    )


def suggestion(vaccine: StandardizedVaccine) -> dict:
    name, short = vaccine.vaccine_name, vaccine.short_name
    return {
        "value": f"{name} ({short})" if short and short.lower() != name.lower() else name,
        "label": name,
        "who_code": vaccine.who_code,
        "short_name": short,
        "category": vaccine.category,
        "is_combined": vaccine.is_combined,
        "components": vaccine.components,
    }


@extend_schema(tags=["standardized-vaccines"])
class StandardizedVaccineViewSet(CatalogueViewSet):
    """The vaccine catalogue. Everyone signed in reads it; only admins change it."""

    queryset = StandardizedVaccine.objects.all()
    serializer_class = StandardizedVaccineSerializer
    default_limit = SEARCH_DEFAULT_LIMIT
    max_limit = SEARCH_MAX_LIMIT

    def _category(self):
        return category_value(self.request.query_params.get("category"))

    def _one(self, queryset_or_entry, what: str):
        if queryset_or_entry is None:
            raise Http404(f"No vaccine with this {what}.")
        return Response(self.get_serializer(queryset_or_entry).data)

    @extend_schema(
        parameters=[
            QUERY_PARAM,
            _category_param(),
            SKIP_PARAM,
            *_limit_params(SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT),
        ],
        responses=VaccineSearchResultSerializer,
    )
    @action(detail=False, methods=["get"], throttle_scope="search", pagination_class=None)
    def search(self, request):
        """Entries whose name, short name, WHO code, common or brand names or diseases contain
        the query, or each of its words (all entries without a query), best matches first:
        exact name, short name or code; names starting with the query; common or brand names
        starting with it; the rest. Matching is by substring, without typo tolerance.
        """
        text = self._text("query", "q")
        category = self._category()
        skip, limit = skip_limit(
            request, default_limit=SEARCH_DEFAULT_LIMIT, max_limit=SEARCH_MAX_LIMIT
        )
        queryset = self.get_queryset()
        if category:
            queryset = queryset.filter(category=category)
        queryset = ranked(queryset, text) if text else queryset
        total = queryset.count()
        rows = queryset[skip : skip + limit]
        return Response({"vaccines": self.get_serializer(rows, many=True).data, "total": total})

    @extend_schema(
        parameters=[
            *AUTOCOMPLETE_PARAMS,
            _category_param(),
            *_limit_params(AUTOCOMPLETE_DEFAULT_LIMIT, AUTOCOMPLETE_MAX_LIMIT),
        ],
        responses=VaccineSuggestionSerializer(many=True),
    )
    @action(detail=False, methods=["get"], throttle_scope="search", pagination_class=None)
    def autocomplete(self, request):
        """Suggestions for the vaccine picker, ranked like search."""
        text = self._text("q", "query")
        if len(text) < AUTOCOMPLETE_MIN_LENGTH:
            raise FieldValidationError(
                "q", f"Type at least {AUTOCOMPLETE_MIN_LENGTH} characters to get suggestions."
            )
        category = self._category()
        _, limit = skip_limit(
            request, default_limit=AUTOCOMPLETE_DEFAULT_LIMIT, max_limit=AUTOCOMPLETE_MAX_LIMIT
        )
        queryset = self.get_queryset()
        if category:
            queryset = queryset.filter(category=category)
        return Response([suggestion(v) for v in ranked(queryset, text)[:limit]])

    @extend_schema(responses=StandardizedVaccineSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def common(self, request):
        """Frequently given vaccines, in display order."""
        rows = self.get_queryset().filter(is_common=True)
        return Response(self.get_serializer(rows, many=True).data)

    @extend_schema(
        parameters=[_category_param(required=True)],
        responses=StandardizedVaccineSerializer(many=True),
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=r"by-category/(?P<category>[^/]+)",
        pagination_class=None,
    )
    def by_category(self, request, category):
        """Every entry of one category (422 for an unknown category), in display order."""
        rows = self.get_queryset().filter(category=category_value(category))
        return Response(self.get_serializer(rows, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("who_code", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses=StandardizedVaccineSerializer,
    )
    @action(detail=False, methods=["get"], url_path=r"by-who-code/(?P<who_code>[^/]+)")
    def by_who_code(self, request, who_code):
        """The entry with this WHO PreQualVaccineType code (case-insensitive); 404 if none."""
        return self._one(self.get_queryset().by_who_code(who_code), "WHO code")

    @extend_schema(
        parameters=[OpenApiParameter("vaccine_name", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses=StandardizedVaccineSerializer,
    )
    @action(detail=False, methods=["get"], url_path=r"by-name/(?P<vaccine_name>[^/]+)")
    def by_name(self, request, vaccine_name):
        """The entry with exactly this name, ignoring case; 404 if none."""
        name = vaccine_name.strip()
        entry = self.get_queryset().filter(vaccine_name__iexact=name).first() if name else None
        return self._one(entry, "name")

    @extend_schema(parameters=[_category_param()], responses=VaccineCountSerializer)
    @action(detail=False, methods=["get"])
    def count(self, request):
        """How many entries the catalogue offers (in one category when `category` is given)."""
        category = self._category()
        queryset = self.get_queryset()
        if category:
            queryset = queryset.filter(category=category)
        return Response({"category": category, "count": queryset.count()})


urlpatterns: list = []


def register(router, nested, register_record):
    router.register(
        "standardized-vaccines", StandardizedVaccineViewSet, basename="standardized-vaccine"
    )
