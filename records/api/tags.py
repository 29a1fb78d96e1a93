"""/tags: tags across every tagged record type and the caller's tag registry (spec "Tags",
web-client-api.md §12). The work is in records/services/tags.py; these views read and check
the request and shape the answer.

List parameters (`entity_types`, `tags`) may be repeated, written with `[]`, or separated by
commas. A `limit` above its maximum is capped, as for every list of the API.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.plumbing import build_array_type, build_basic_type, build_object_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from medikeep.api.exceptions import FieldValidationError
from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.views import ApiView
from patients.access import Level, require_patient_access
from patients.selectors import active_patient_id
from records.models import UserTag
from records.search.items import record_items
from records.services import tags as tag_services

TAGS = ["tags"]
POPULAR_LIMIT, POPULAR_MAX = 20, 50
SUGGESTIONS_LIMIT, SUGGESTIONS_MAX = 20, 50
AUTOCOMPLETE_LIMIT, AUTOCOMPLETE_MAX = 10, 20
SEARCH_LIMIT, SEARCH_MAX = 10, 20
# More tags than a record may carry cannot all match; this only bounds the query's size.
SEARCH_MAX_TAGS = 50


TAG_NAMES = OpenApiResponse(build_array_type(build_basic_type(OpenApiTypes.STR)), "Tag names.")


def list_param(request, name: str) -> list[str]:
    """A list parameter as the clients send it: repeated, as `name[]`, or comma separated."""
    values = request.query_params.getlist(name) + request.query_params.getlist(f"{name}[]")
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _query(name, kind, description, *, required=False, many=False):
    return OpenApiParameter(
        name,
        kind,
        OpenApiParameter.QUERY,
        required=required,
        description=description,
        many=many,
        explode=True if many else None,
    )


ENTITY_TYPES_PARAM = _query(
    "entity_types",
    OpenApiTypes.STR,
    "Entity types (record kinds: medication, lab_result, condition …); every tagged type "
    "when absent. Repeat the parameter or separate with commas.",
    many=True,
)


def _limit_field(default: int, maximum: int) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        default=default,
        min_value=1,
        help_text=f"At most this many (default {default}; above {maximum} reads as {maximum}).",
    )


def _checked(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return query.validated_data


# --- popular, suggestions, autocomplete ------------------------------------------------------


class PopularQuerySerializer(FastSerializer):
    limit = _limit_field(POPULAR_LIMIT, POPULAR_MAX)


class PopularTagSerializer(FastSerializer):
    id = serializers.IntegerField(help_text="The tag's id in the caller's registry.")
    tag = serializers.CharField()
    count = serializers.IntegerField(help_text="Records carrying the tag (the spec's name).")
    usage_count = serializers.IntegerField(help_text="The same number (the web app's name).")
    entity_types = serializers.ListField(child=serializers.CharField())
    color = serializers.CharField(allow_null=True, help_text="#rrggbb, or null.")


class PopularView(ApiView):
    @extend_schema(
        parameters=[PopularQuerySerializer, ENTITY_TYPES_PARAM],
        responses=PopularTagSerializer(many=True),
        tags=TAGS,
        operation_id="tags_popular",
    )
    def get(self, request):
        """The most used tags on records of every patient the caller may see, with the types
        that carry them, then the caller's registered tags that no record carries (count
        0). Every tag answered is in the caller's registry (added when missing)."""
        params = _checked(PopularQuerySerializer, request)
        popular = tag_services.popular_tags(
            request.user,
            limit=min(params["limit"], POPULAR_MAX),
            entity_types=list_param(request, "entity_types"),
        )
        return Response(
            [
                {
                    "id": item.id,
                    "tag": item.tag,
                    "count": item.count,
                    "usage_count": item.count,
                    "entity_types": item.entity_types,
                    "color": item.color,
                }
                for item in popular
            ]
        )


class SuggestionsQuerySerializer(FastSerializer):
    limit = _limit_field(SUGGESTIONS_LIMIT, SUGGESTIONS_MAX)
    entity_type = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text="One entity type."
    )


class SuggestionsView(ApiView):
    @extend_schema(
        parameters=[SuggestionsQuerySerializer],
        responses={200: TAG_NAMES},
        tags=TAGS,
        operation_id="tags_suggestions",
    )
    def get(self, request):
        """Tag names for a record form: the most used on records the caller may see (of
        `entity_type` when given), then the caller's other registered tags."""
        params = _checked(SuggestionsQuerySerializer, request)
        return Response(
            tag_services.suggest_tags(
                request.user,
                limit=min(params["limit"], SUGGESTIONS_MAX),
                entity_type=params.get("entity_type") or None,
            )
        )


class AutocompleteQuerySerializer(FastSerializer):
    q = serializers.CharField(min_length=1, max_length=50, help_text="What was typed.")
    limit = _limit_field(AUTOCOMPLETE_LIMIT, AUTOCOMPLETE_MAX)


class AutocompleteView(ApiView):
    @extend_schema(
        parameters=[AutocompleteQuerySerializer],
        responses={200: TAG_NAMES},
        tags=TAGS,
        operation_id="tags_autocomplete",
    )
    def get(self, request):
        """The caller's tags containing `q`: those starting with it first, most used first.
        Only tags of the caller's registry and of records the caller may see."""
        params = _checked(AutocompleteQuerySerializer, request)
        return Response(
            tag_services.autocomplete_tags(
                request.user, query=params["q"], limit=min(params["limit"], AUTOCOMPLETE_MAX)
            )
        )


# --- search ----------------------------------------------------------------------------------


class TagSearchQuerySerializer(FastSerializer):
    limit_per_entity = _limit_field(SEARCH_LIMIT, SEARCH_MAX)
    match_mode = serializers.ChoiceField(
        choices=["any", "all"], required=False, default="any", help_text="any (default) or all."
    )
    tag_match_all = serializers.BooleanField(
        required=False, default=False, help_text="Same as match_mode=all."
    )
    patient_id = serializers.IntegerField(
        required=False, help_text="The patient; the active patient when absent."
    )


class TagSearchView(ApiView):
    @extend_schema(
        parameters=[
            TagSearchQuerySerializer,
            _query(
                "tags",
                OpenApiTypes.STR,
                "Tags to look for; repeat the parameter or separate with commas.",
                required=True,
                many=True,
            ),
            ENTITY_TYPES_PARAM,
        ],
        responses={
            200: OpenApiResponse(
                build_object_type(additionalProperties=build_array_type(build_object_type())),
                description="Per entity type, the records as their own list endpoint shows "
                "them (a type with none: an empty list).",
            )
        },
        tags=TAGS,
        operation_id="tags_search",
    )
    def get(self, request):
        """One patient's records carrying any (or all) of `tags`, newest first, grouped by
        entity type; every type asked for (or every tagged type) is a key."""
        params = _checked(TagSearchQuerySerializer, request)
        wanted: list[str] = []
        for raw in list_param(request, "tags"):
            name = "-".join(raw.lower().split())
            if name not in wanted:
                wanted.append(name)
        if not wanted:
            raise FieldValidationError("tags", "Give at least one tag.")
        if len(wanted) > SEARCH_MAX_TAGS:
            raise FieldValidationError("tags", f"Give at most {SEARCH_MAX_TAGS} tags.")
        models = tag_services.models_named(list_param(request, "entity_types"))
        if params.get("patient_id") is not None:
            patient_id = require_patient_access(request.user, params["patient_id"], Level.VIEW)
        else:
            patient_id = active_patient_id(request.user)
        found = tag_services.search_record_ids(
            request.user,
            patient_id=patient_id,
            tags=wanted,
            match_all=params["match_mode"] == "all" or params["tag_match_all"],
            models=models,
            limit_per_type=min(params["limit_per_entity"], SEARCH_MAX),
        )
        answer = {}
        for model, ids in found.items():
            items = record_items(request, model, ids) if ids else {}
            answer[model.kind.name] = [items[pk] for pk in ids if pk in items]
        return Response(answer)


# --- the registry ----------------------------------------------------------------------------


class CreateTagSerializer(FastSerializer):
    tag = serializers.CharField(max_length=200, trim_whitespace=True)


class CreatedTagSerializer(FastSerializer):
    message = serializers.CharField()
    tag = serializers.CharField()
    id = serializers.IntegerField(help_text="The tag's id in the caller's registry.")


class CreateTagView(ApiView):
    @extend_schema(
        request=CreateTagSerializer,
        responses=CreatedTagSerializer,
        tags=TAGS,
        operation_id="tags_create",
    )
    def post(self, request):
        """Adds a tag to the caller's registry (cleaned as record tags are: lower case,
        spaces to dashes, at most 50 characters). Creating an existing tag answers it again."""
        body = CreateTagSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = tag_services.register_tag(request.user, body.validated_data["tag"])
        return Response(
            {"message": f"Successfully created tag '{row.tag}'", "tag": row.tag, "id": row.pk}
        )


class TagColorSerializer(FastSerializer):
    color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}$",
        allow_null=True,
        error_messages={"invalid": "Give a colour as #rrggbb, or null."},
    )


class UserTagSerializer(FastModelSerializer):
    color = serializers.SerializerMethodField()

    class Meta:
        model = UserTag
        fields = ["id", "tag", "color", "created_at"]

    def get_color(self, row) -> str | None:
        return row.color or None


class TagColorView(ApiView):
    @extend_schema(
        request=TagColorSerializer,
        responses=UserTagSerializer,
        tags=TAGS,
        operation_id="tags_color",
    )
    def patch(self, request, tag_id: int):
        """Sets the colour of one of the caller's tags (#rrggbb), or clears it with null."""
        body = TagColorSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = tag_services.set_tag_color(request.user, tag_id, body.validated_data["color"])
        return Response(UserTagSerializer(row).data)


# --- rename, replace, delete -----------------------------------------------------------------


class ChangeTagQuerySerializer(FastSerializer):
    old_tag = serializers.CharField(max_length=200)
    new_tag = serializers.CharField(max_length=200)


class DeleteTagQuerySerializer(FastSerializer):
    tag = serializers.CharField(max_length=200)


class TagChangeResultSerializer(FastSerializer):
    message = serializers.CharField()
    records_updated = serializers.IntegerField()


def _old_and_new(request) -> tuple[str, str]:
    params = _checked(ChangeTagQuerySerializer, request)
    old = tag_services.normalise_tag(params["old_tag"], "old_tag")
    new = tag_services.normalise_tag(params["new_tag"], "new_tag")
    if old == new:
        raise FieldValidationError("new_tag", "The new tag is the same as the old one.")
    return old, new


CHANGE_DOC = (
    " on every record the caller may edit, every type at once (all or nothing); a record "
    "that already has the new tag keeps it once. Records the caller may only view are left "
    "as they are. The caller's registry follows."
)


class RenameTagView(ApiView):
    @extend_schema(
        parameters=[ChangeTagQuerySerializer],
        request=None,
        responses=TagChangeResultSerializer,
        tags=TAGS,
        operation_id="tags_rename",
        description="Renames `old_tag` to `new_tag`" + CHANGE_DOC,
    )
    def put(self, request):
        old, new = _old_and_new(request)
        updated = tag_services.change_tag(request.user, old=old, new=new)
        return Response(
            {
                "message": f"Successfully renamed '{old}' to '{new}'",
                "records_updated": updated,
            }
        )


class ReplaceTagView(ApiView):
    @extend_schema(
        parameters=[ChangeTagQuerySerializer],
        request=None,
        responses=TagChangeResultSerializer,
        tags=TAGS,
        operation_id="tags_replace",
        description="Replaces `old_tag` with `new_tag` (as rename does)" + CHANGE_DOC,
    )
    def put(self, request):
        old, new = _old_and_new(request)
        updated = tag_services.change_tag(request.user, old=old, new=new)
        return Response(
            {
                "message": f"Successfully replaced '{old}' with '{new}'",
                "records_updated": updated,
            }
        )


class DeleteTagView(ApiView):
    @extend_schema(
        parameters=[DeleteTagQuerySerializer],
        responses=TagChangeResultSerializer,
        tags=TAGS,
        operation_id="tags_delete",
        description="Removes `tag` from every record the caller may edit, every type at once "
        "(all or nothing), and from the caller's registry. Records the caller may only view "
        "keep it.",
    )
    def delete(self, request):
        params = _checked(DeleteTagQuerySerializer, request)
        tag = tag_services.normalise_tag(params["tag"])
        updated = tag_services.change_tag(request.user, old=tag, new=None)
        return Response(
            {"message": f"Successfully deleted tag '{tag}'", "records_updated": updated}
        )


urlpatterns = [
    path("tags/popular", PopularView.as_view()),
    path("tags/suggestions", SuggestionsView.as_view()),
    path("tags/autocomplete", AutocompleteView.as_view()),
    path("tags/search", TagSearchView.as_view()),
    path("tags/create", CreateTagView.as_view()),
    path("tags/<int:tag_id>/color", TagColorView.as_view()),
    path("tags/rename", RenameTagView.as_view()),
    path("tags/replace", ReplaceTagView.as_view()),
    path("tags/delete", DeleteTagView.as_view()),
]
