"""/standardized-tests: the lab-test (LOINC) catalogue, read by everyone signed in and
written by admins (the reference leaves these paths open; here they need a login).

- search (query, category, skip, limit) → {"tests": [...], "total": n}, best matches first;
- autocomplete (q, at least 2 characters; category, limit) → suggestions for a test-name field;
- common, by-category/{category}, by-loinc/{loinc_code}, by-name/{test_name}, count;
- batch-match: up to 100 names → the entry each stands for, as lab components are linked;
- plus the catalogue's own list and detail, and create/update/delete for admins.

Only active entries are offered; admins also see retired ones in the list and detail.

Ranking. The database narrows the candidates (one LIKE over `search_text`: entries containing
the query, or every word of it); the candidates, plus entries whose names are within a typo of
the query (compared in memory against the cached catalogue index), are then ranked in Python:

  0 the LOINC code is the query;  1 the long or short name is the query;
  2 the long or short name (or the code) starts with the query;
  3 a common name is the query, or starts with it;
  4 anything else: the query appears inside, every word of it does, or a name is a typo away.

Within a tier a short-name match comes before a long-name one, then common tests, then
display order. Ranking in Python keeps the five tiers and the typo match readable; at
catalogue size (hundreds of entries) a search costs 10-20 ms, mostly the typo comparison,
and the page itself is one more query (by id). A catalogue of tens of
thousands of LOINC rows would want this in SQL (CASE ranks, trigram indexes) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from django.db.models import Count, Q
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from medikeep.api.exceptions import FieldValidationError
from medikeep.api.pagination import skip_limit
from medikeep.api.representation import FastModelSerializer, FastSerializer
from patients.core.serializers import LenientChoiceField, clean_through_model, match_choice
from records.api.reference_base import CatalogueViewSet
from records.models import StandardizedTest, StandardizedTestCategory, StandardizedTestResultType
from records.models.lab_catalogue import (
    MAX_COMMON_NAME_LENGTH,
    MAX_COMMON_NAMES,
    catalogue_index,
)

SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT = 20, 100
AUTOCOMPLETE_DEFAULT_LIMIT, AUTOCOMPLETE_MAX_LIMIT = 10, 50
LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT = 500, 1000
AUTOCOMPLETE_MIN_LENGTH = 2
MAX_QUERY_LENGTH = 200
MAX_BATCH_NAMES = 100
# Typo matching starts at this many characters and this similarity (difflib ratio).
FUZZY_MIN_LENGTH, FUZZY_MIN_RATIO = 4, 0.8

TIER_CODE, TIER_NAME, TIER_PREFIX, TIER_SYNONYM, TIER_OTHER = range(5)


# --- serializers ----------------------------------------------------------------------------


class StandardizedTestSerializer(FastModelSerializer):
    """A catalogue entry. Writes (admins only) are validated by the model (`full_clean`)."""

    category = LenientChoiceField(choices=StandardizedTestCategory.choices, required=False)
    result_type = LenientChoiceField(choices=StandardizedTestResultType.choices, required=False)
    common_names = serializers.ListField(
        child=serializers.CharField(max_length=MAX_COMMON_NAME_LENGTH),
        max_length=MAX_COMMON_NAMES,
        required=False,
    )

    class Meta:
        model = StandardizedTest
        fields = [
            "id",
            "loinc_code",
            "test_name",
            "short_name",
            "default_unit",
            "category",
            "common_names",
            "is_common",
            "display_order",
            "result_type",
            "is_active",
        ]

    def validate(self, attrs):
        return clean_through_model(StandardizedTest, self.instance, attrs)


class TestSearchResultSerializer(FastSerializer):
    tests = StandardizedTestSerializer(many=True)
    total = serializers.IntegerField(help_text="How many entries match (before skip/limit).")


class TestSuggestionSerializer(FastSerializer):
    value = serializers.CharField(help_text="The LOINC long name.")
    label = serializers.CharField(help_text='"Short name - first common name".')
    short_name = serializers.CharField()
    loinc_code = serializers.CharField()
    default_unit = serializers.CharField()
    category = serializers.CharField()
    result_type = serializers.CharField()


class TestCountSerializer(FastSerializer):
    total_tests = serializers.IntegerField()
    common_tests = serializers.IntegerField()
    categories = serializers.IntegerField(help_text="How many categories have tests.")


class BatchMatchRequestSerializer(FastSerializer):
    test_names = serializers.ListField(
        child=serializers.CharField(max_length=MAX_QUERY_LENGTH, allow_blank=True),
        min_length=1,
        max_length=MAX_BATCH_NAMES,
    )


class BatchMatchSerializer(FastSerializer):
    input = serializers.CharField()
    matched = serializers.BooleanField()
    loinc_code = serializers.CharField(allow_null=True)
    test_name = serializers.CharField(allow_null=True)
    short_name = serializers.CharField(allow_null=True)
    default_unit = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    match_type = serializers.ChoiceField(
        choices=["code", "name", "short_name", "synonym"],
        allow_null=True,
        help_text="What matched: the LOINC code, the long name, the short name or a common "
        "name (case, spacing and punctuation ignored).",
    )


class BatchMatchResultSerializer(FastSerializer):
    matches = BatchMatchSerializer(many=True)
    total_requested = serializers.IntegerField()
    total_matched = serializers.IntegerField()


# --- ranking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    id: int
    loinc_code: str
    test_name: str
    short_name: str
    common_names: tuple[str, ...]
    is_common: bool
    display_order: int


def normalise_query(text: str) -> str:
    return " ".join(text.casefold().split())


def _tier(query: str, candidate: Candidate) -> tuple[int, int]:
    """(tier, rank inside the tier) of a candidate that the database found for the query."""
    code = candidate.loinc_code.casefold()
    names = [normalise_query(candidate.short_name), normalise_query(candidate.test_name)]
    synonyms = [normalise_query(name) for name in candidate.common_names]
    if code == query:
        return TIER_CODE, 0
    if query in names:
        return TIER_NAME, names.index(query)
    for rank, name in enumerate([*names, code]):
        if name and name.startswith(query):
            return TIER_PREFIX, rank
    if query in synonyms:
        return TIER_SYNONYM, 0
    if any(name.startswith(query) for name in synonyms):
        return TIER_SYNONYM, 1
    return TIER_OTHER, 0


def _similarity(matcher: SequenceMatcher, texts: list[str]) -> float:
    """The best difflib ratio between the matcher's query (its second sequence, set once per
    search) and any of the texts, or 0 when none reaches FUZZY_MIN_RATIO (cheap bounds
    first)."""
    best = 0.0
    for text in texts:
        matcher.set_seq1(text)
        if (
            matcher.real_quick_ratio() >= FUZZY_MIN_RATIO
            and matcher.quick_ratio() >= FUZZY_MIN_RATIO
        ):
            ratio = matcher.ratio()
            if ratio >= FUZZY_MIN_RATIO:
                best = max(best, ratio)
    return best


def ranked_ids(queryset, text: str, category: str | None = None) -> list[int]:
    """Ids of the entries of `queryset` matching `text`, best first (see the module notes)."""
    query = normalise_query(text)
    words = query.split()
    found = Q(search_text__contains=query)
    if len(words) > 1:
        found |= Q(*[Q(search_text__contains=word) for word in words])
    rows = (
        queryset.filter(found)
        .order_by()
        .values_list(
            "id",
            "loinc_code",
            "test_name",
            "short_name",
            "common_names",
            "is_common",
            "display_order",
        )
    )
    keyed = []
    for row in rows:
        candidate = Candidate(*row[:4], tuple(row[4] or ()), *row[5:])
        tier, rank = _tier(query, candidate)
        keyed.append(((tier, rank, 0.0), candidate))
    if len(query) >= FUZZY_MIN_LENGTH:
        keyed += _typo_matches(query, queryset, category, seen={c.id for _, c in keyed})
    keyed.sort(
        key=lambda item: (
            item[0],
            not item[1].is_common,
            item[1].display_order,
            len(item[1].test_name),
            item[1].id,
        )
    )
    return [candidate.id for _, candidate in keyed]


def _typo_matches(query: str, queryset, category: str | None, seen: set[int]) -> list:
    """Entries the LIKE missed whose short, long (up to its bracket) or common names are a
    typo away from the query: compared against the in-memory catalogue index."""
    matches = []
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(query)  # difflib indexes the second sequence: once per search
    for entry in catalogue_index().entries:
        if entry.id in seen or (category and entry.category != category):
            continue
        names = [entry.short_name, entry.test_name.split(" [")[0], *entry.common_names]
        score = _similarity(matcher, [normalise_query(name) for name in names if name])
        if score:
            candidate = Candidate(
                entry.id,
                entry.loinc_code,
                entry.test_name,
                entry.short_name,
                entry.common_names,
                entry.is_common,
                entry.display_order,
            )
            matches.append(((TIER_OTHER, 1, -score), candidate))
    if not matches:
        return []
    # The index holds every active entry; keep only those the caller's queryset allows.
    allowed = set(queryset.filter(id__in=[c.id for _, c in matches]).values_list("id", flat=True))
    return [item for item in matches if item[1].id in allowed]


def suggestion(test: StandardizedTest) -> dict:
    short = test.short_name or test.test_name
    label = f"{short} - {test.common_names[0]}" if test.common_names else short
    return {
        "value": test.test_name,
        "label": label,
        "short_name": test.short_name,
        "loinc_code": test.loinc_code,
        "default_unit": test.default_unit,
        "category": test.category,
        "result_type": test.result_type,
    }


def batch_match(names: list[str]) -> dict:
    """The entry each name stands for, matched as lab components are linked: by LOINC code,
    long name, short name or common name (case, spacing and punctuation ignored); never a
    guess, so a name that only resembles an entry is reported unmatched."""
    index = catalogue_index()
    matches = []
    for name in names:
        found = index.match(name) if name.strip() else None
        entry = found.entry if found else None
        matches.append(
            {
                "input": name,
                "matched": found is not None,
                "loinc_code": entry.loinc_code if entry else None,
                "test_name": entry.test_name if entry else None,
                "short_name": entry.short_name if entry else None,
                "default_unit": entry.default_unit if entry else None,
                "category": entry.category if entry else None,
                "match_type": found.matched_by if found else None,
            }
        )
    return {
        "matches": matches,
        "total_requested": len(names),
        "total_matched": sum(1 for match in matches if match["matched"]),
    }


# --- parameters -----------------------------------------------------------------------------


def category_value(raw: str | None, field: str = "category") -> str | None:
    """The stored category a parameter names (case-insensitive); 422 for an unknown one."""
    if raw is None or not raw.strip():
        return None
    value = match_choice(raw, StandardizedTestCategory.values)
    if value not in StandardizedTestCategory.values:
        choices = ", ".join(StandardizedTestCategory.values)
        raise FieldValidationError(field, f"Unknown category {raw!r}; use one of {choices}.")
    return value


def _category_param(required: bool = False) -> OpenApiParameter:
    return OpenApiParameter(
        "category",
        OpenApiTypes.STR,
        OpenApiParameter.PATH if required else OpenApiParameter.QUERY,
        required=required,
        enum=StandardizedTestCategory.values,
        description="A test category (case-insensitive).",
    )


def _limit_param(default: int, maximum: int) -> OpenApiParameter:
    return OpenApiParameter(
        "limit",
        OpenApiTypes.INT,
        description=f"Items to return (default {default}, at most {maximum}).",
    )


QUERY_PARAM = OpenApiParameter(
    "query", OpenApiTypes.STR, description="Test name, short or common name, or LOINC code."
)
SKIP_PARAM = OpenApiParameter("skip", OpenApiTypes.INT, description="Items to skip (default 0).")
Q_PARAM = OpenApiParameter(
    "q", OpenApiTypes.STR, description="Text typed so far (at least 2 characters)."
)


# --- views ----------------------------------------------------------------------------------


@extend_schema(tags=["standardized-tests"])
class StandardizedTestViewSet(CatalogueViewSet):
    """The lab-test catalogue. Everyone signed in reads it; only admins change it."""

    queryset = StandardizedTest.objects.all()
    serializer_class = StandardizedTestSerializer
    default_limit = 100
    max_limit = 1000

    def _filtered(self, category: str | None):
        queryset = self.get_queryset()
        return queryset.filter(category=category) if category else queryset

    def _ranked_page(self, text: str, category: str | None, skip: int, limit: int):
        queryset = self._filtered(category)
        if not text:
            return list(queryset[skip : skip + limit]), queryset.count()
        ids = ranked_ids(queryset, text, category)
        page = ids[skip : skip + limit]
        rows = queryset.in_bulk(page)
        return [rows[pk] for pk in page if pk in rows], len(ids)

    def _one(self, entry, what: str, value: str):
        if entry is None:
            raise Http404(f"No standardized test has the {what} {value!r}.")
        return Response(self.get_serializer(entry).data)

    @extend_schema(
        parameters=[
            QUERY_PARAM,
            _category_param(),
            SKIP_PARAM,
            _limit_param(SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT),
        ],
        responses=TestSearchResultSerializer,
    )
    @action(detail=False, methods=["get"], throttle_scope="search", pagination_class=None)
    def search(self, request):
        """Entries matching the query by code, name, short or common name (every entry
        without a query), best first: exact code; exact name; names starting with the query;
        common names; the rest, including names a typo away."""
        text = self._text("query", "q")
        category = category_value(request.query_params.get("category"))
        skip, limit = skip_limit(
            request, default_limit=SEARCH_DEFAULT_LIMIT, max_limit=SEARCH_MAX_LIMIT
        )
        rows, total = self._ranked_page(text, category, skip, limit)
        return Response({"tests": self.get_serializer(rows, many=True).data, "total": total})

    @extend_schema(
        parameters=[
            Q_PARAM,
            _category_param(),
            _limit_param(AUTOCOMPLETE_DEFAULT_LIMIT, AUTOCOMPLETE_MAX_LIMIT),
        ],
        responses=TestSuggestionSerializer(many=True),
    )
    @action(detail=False, methods=["get"], throttle_scope="search", pagination_class=None)
    def autocomplete(self, request):
        """Suggestions for a test-name field, ranked like search (422 under 2 characters)."""
        text = self._text("q", "query")
        if len(text) < AUTOCOMPLETE_MIN_LENGTH:
            raise FieldValidationError(
                "q", f"Type at least {AUTOCOMPLETE_MIN_LENGTH} characters to get suggestions."
            )
        category = category_value(request.query_params.get("category"))
        _, limit = skip_limit(
            request, default_limit=AUTOCOMPLETE_DEFAULT_LIMIT, max_limit=AUTOCOMPLETE_MAX_LIMIT
        )
        rows, _ = self._ranked_page(text, category, 0, limit)
        return Response([suggestion(row) for row in rows])

    @extend_schema(parameters=[_category_param()], responses=StandardizedTestSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def common(self, request):
        """Frequently ordered tests, in display order (of one category when given)."""
        category = category_value(request.query_params.get("category"))
        rows = self._filtered(category).filter(is_common=True)
        return Response(self.get_serializer(rows, many=True).data)

    @extend_schema(
        parameters=[
            _category_param(required=True),
            SKIP_PARAM,
            _limit_param(LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT),
        ],
        responses=StandardizedTestSerializer(many=True),
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=r"by-category/(?P<category>[^/]+)",
        pagination_class=None,
    )
    def by_category(self, request, category):
        """The entries of one category, in display order (422 for an unknown category)."""
        skip, limit = skip_limit(
            request, default_limit=LIST_DEFAULT_LIMIT, max_limit=LIST_MAX_LIMIT
        )
        rows = self._filtered(category_value(category))[skip : skip + limit]
        return Response(self.get_serializer(rows, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("loinc_code", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses=StandardizedTestSerializer,
    )
    @action(detail=False, methods=["get"], url_path=r"by-loinc/(?P<loinc_code>[^/]+)")
    def by_loinc(self, request, loinc_code):
        """The entry with this LOINC code; 404 if none."""
        code = loinc_code.strip()
        entry = self.get_queryset().filter(loinc_code=code).first() if code else None
        return self._one(entry, "LOINC code", code)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "test_name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="May contain '/', as LOINC names do.",
            )
        ],
        responses=StandardizedTestSerializer,
    )
    # LOINC names contain "/" ("[Mass/volume]"), so the name is the rest of the path.
    @action(detail=False, methods=["get"], url_path=r"by-name/(?P<test_name>.+)")
    def by_name(self, request, test_name):
        """The entry with exactly this long name, else this short name (case-insensitive);
        404 if none."""
        name = " ".join(test_name.split())
        entry = None
        if name:
            found = list(
                self.get_queryset().filter(Q(test_name__iexact=name) | Q(short_name__iexact=name))
            )
            found.sort(key=lambda t: t.test_name.casefold() != name.casefold())
            entry = found[0] if found else None
        return self._one(entry, "name", name)

    @extend_schema(responses=TestCountSerializer)
    @action(detail=False, methods=["get"])
    def count(self, request):
        """How many entries the catalogue offers, how many are common, and in how many
        categories (one query)."""
        totals = (
            self.get_queryset()
            .order_by()
            .aggregate(
                total_tests=Count("id"),
                common_tests=Count("id", filter=Q(is_common=True)),
                categories=Count("category", distinct=True),
            )
        )
        return Response(totals)

    @extend_schema(request=BatchMatchRequestSerializer, responses=BatchMatchResultSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="batch-match",
        permission_classes=[IsAuthenticated],
    )
    def batch_match(self, request):
        """Matches up to 100 test names (say, from a lab report) to catalogue entries, as lab
        components are linked: by LOINC code, long, short or common name; unmatched names are
        reported with matched false."""
        body = BatchMatchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(batch_match(body.validated_data["test_names"]))


urlpatterns: list = []


def register(router, nested, register_record):
    router.register("standardized-tests", StandardizedTestViewSet, basename="standardized-test")
