"""/search: records of every type by name, notes, codes and tags (spec "Search",
web-client-api.md §11). The work is in records/search/; this view reads the request, picks
the answer's form and shapes it.

Two clients disagree on this path. The contract's form (`q` required, `type`, `patient_id`)
answers `{results: [{type, id, name, patient_id}], total}`; the web app's form (`q`
optional, `types`, `sort`, `skip`/`limit`, `date_from`/`date_to`) answers results grouped
per type with counts, `total_count` and `pagination`. A request carrying `sort`, `skip` or
`types` gets the web app's form. Both run the same search (records/search/query.py).
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.response import Response

from medikeep.api.exceptions import FieldValidationError
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from patients.access import Level, require_patient_access
from records.search import query
from records.search.items import serialized_records
from records.search.snippets import highlight

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
APP_FORM_PARAMS = ("sort", "skip", "types", "types[]")


def list_param(request, name: str) -> list[str]:
    """A list parameter as the clients send it: repeated, as `name[]`, or comma separated."""
    values = request.query_params.getlist(name) + request.query_params.getlist(f"{name}[]")
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class SearchQuerySerializer(FastSerializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Words to find in names, notes, codes and tags (accents and case ignored; "
        "a word matches the start of a word, or anywhere inside one from 3 characters). "
        "Required for the ranked answer; with `sort`, `skip` or `types` (the grouped "
        "answer) an absent q lists everything.",
    )
    type = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=50,
        help_text="One record type (medication or medications …).",
    )
    patient_id = serializers.IntegerField(
        required=False, help_text="One patient; every patient you may see when absent."
    )
    sort = serializers.ChoiceField(
        choices=query.SORTS,
        required=False,
        help_text=f"The web app's form; default {query.DEFAULT_SORT}. relevance: the name "
        "equal to the query first, then names starting with it, then the rest, newest first.",
    )
    skip = serializers.IntegerField(
        required=False, default=0, min_value=0, help_text="Per type (the web app's form)."
    )
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        help_text=f"Per type in the web app's form (default {DEFAULT_LIMIT}; above "
        f"{MAX_LIMIT} reads as {MAX_LIMIT}).",
    )
    date_from = serializers.DateField(
        required=False, input_formats=["%Y-%m-%d"], help_text="The record's own date, from."
    )
    date_to = serializers.DateField(
        required=False, input_formats=["%Y-%m-%d"], help_text="The record's own date, to."
    )

    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise FieldValidationError("date_to", "date_to is before date_from.")
        return attrs


TYPES_PARAM = OpenApiParameter(
    "types",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    many=True,
    explode=True,
    description="The web app's form: record types by their group names (medications, "
    "lab_results …); repeat the parameter or separate with commas.",
)


class SearchResultSerializer(FastSerializer):
    type = serializers.CharField(help_text="The record type (medication, lab_result …).")
    id = serializers.IntegerField()
    name = serializers.CharField()
    patient_id = serializers.IntegerField()


class SearchResultsSerializer(FastSerializer):
    results = SearchResultSerializer(many=True)
    total = serializers.IntegerField()


class SearchGroupSerializer(FastSerializer):
    count = serializers.IntegerField(help_text="Matches of this type.")
    items = serializers.ListField(
        child=serializers.DictField(),
        help_text="Each record as its own endpoint lists it, plus type, highlight and score.",
    )


class SearchPaginationSerializer(FastSerializer):
    skip = serializers.IntegerField()
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()


class GroupedSearchResultsSerializer(FastSerializer):
    results = serializers.DictField(
        child=SearchGroupSerializer(), help_text="Per record type (medications, vitals …)."
    )
    total_count = serializers.IntegerField()
    pagination = SearchPaginationSerializer()


def _types(request, params) -> tuple[str, ...]:
    wanted = list_param(request, "types")
    if params.get("type"):
        wanted.append(params["type"])
    models = query.models_by_key()
    unknown = [name for name in wanted if name not in models]
    if unknown:
        raise FieldValidationError(
            "types", f"Unknown record type: {', '.join(unknown)}. Known: {', '.join(models)}."
        )
    return tuple(dict.fromkeys(models[name].kind.name for name in wanted))


class SearchView(ApiView):
    throttle_scope = "search"

    @extend_schema(
        summary="Search records of every type",
        parameters=[
            SearchQuerySerializer,
            TYPES_PARAM,
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description=SearchQuerySerializer().fields["q"].help_text,
                examples=[
                    OpenApiExample("A drug name", value="metformin"),
                    OpenApiExample("Words from notes or a code", value="knee mri"),
                ],
            ),
        ],
        responses=PolymorphicProxySerializer(
            component_name="SearchAnswer",
            serializers=[SearchResultsSerializer, GroupedSearchResultsSerializer],
            resource_type_field_name=None,
        ),
        tags=["search"],
        operation_id="search",
    )
    def get(self, request):
        """Records of every type whose name, notes, codes or tags hold the query's words,
        on the patients you may see (or `patient_id`, 403 when not yours to see)."""
        check = SearchQuerySerializer(data=request.query_params.dict())
        check.is_valid(raise_exception=True)
        params = check.validated_data
        app_form = any(name in request.query_params for name in APP_FORM_PARAMS)
        if not app_form and not (params.get("q") or "").strip():
            raise FieldValidationError("q", "Give the words to search for.")
        patient_id = params.get("patient_id")
        if patient_id is not None:
            patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        search = query.Search(
            user=request.user,
            q=params.get("q") or "",
            patient_id=patient_id,
            types=_types(request, params),
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            # The contract's form has no sort: its list is ranked.
            sort=params.get("sort") or (query.DEFAULT_SORT if app_form else "relevance"),
        )
        limit = min(params["limit"], MAX_LIMIT)
        if app_form:
            return Response(grouped_answer(request, search, params["skip"], limit))
        return Response(ranked_answer(search, limit))


def ranked_answer(search: query.Search, limit: int) -> dict:
    models = query.models_by_key()
    found = query.search(search, 0, limit, per_type=False)
    return {
        "results": [
            {
                "type": hit.record_type,
                "id": hit.record_id,
                "name": hit.title or _untitled(models[hit.record_type], hit),
                "patient_id": hit.patient_id,
            }
            for hit in found.hits
        ],
        "total": found.total,
    }


def _untitled(model, hit) -> str:
    # A type named by an optional field (a vitals reading by its notes) still needs a name.
    label = str(model._meta.verbose_name).capitalize()
    return f"{label} {hit.record_date.isoformat()}" if hit.record_date else label


def _with_aliases(kind, item: dict) -> dict:
    # The web app's search page reads a few fields under names of its own (§11).
    for alias, source in kind.search_aliases:
        item.setdefault(alias, item.get(source))
    return item


def grouped_answer(request, search: query.Search, skip: int, limit: int) -> dict:
    models = query.models_by_key()
    found = query.search(search, skip, limit, per_type=True)
    counts = found.counts
    by_type: dict[str, list] = {}
    for hit in found.hits:
        by_type.setdefault(hit.record_type, []).append(hit)
    shown = search.types or tuple(m.kind.name for m in query.indexed_models())
    results = {}
    for name in shown:
        model = models[name]
        group = by_type.get(name, [])
        records, items = serialized_records(request, model, [hit.record_id for hit in group])
        results[model.kind.plural] = {
            "count": counts.get(name, 0),
            "items": [
                {
                    **_with_aliases(model.kind, items[hit.record_id]),
                    "highlight": highlight(model.kind, records[hit.record_id], search.words),
                    "score": hit.score,
                }
                for hit in group
                if hit.record_id in items  # deleted since the search ran
            ],
        }
    return {
        "results": results,
        "total_count": sum(counts.values()),
        "pagination": {
            "skip": skip,
            "limit": limit,
            "has_more": any(count > skip + limit for count in counts.values()),
        },
    }


urlpatterns = [path("search", SearchView.as_view(), name="search")]
