"""Papra endpoints: the user's organizations, document search, linking a Papra document to a
record, and the sync check of the caller's Papra files.

Every call to Papra uses the caller's own saved URL and API key (their settings); failures
answer 502 (unreachable, key refused, error answers) or 504 (too slow) with the reason, never
the key. Settings and test-connection are the settings module's (files/backends/settings.py).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from files.api import serializers as s
from files.api.views import TAGS, record_in_reach
from files.backends import BackendNotConfigured, backend_for, preference_of
from files.backends import papra as papra_backend
from files.backends.papra_links import link_document, sync_user_files
from medikeep.api.parsers import SafeFormParser, SafeJSONParser
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from patients.access import Level

PAPRA_TAGS = ["papra"]
MAX_PAGE_SIZE = papra_backend.MAX_PAGE_SIZE


def papra_client(user):
    """The caller's Papra client. The organizations list is also what the settings screen
    needs before Papra is switched on, so a saved URL and key suffice (no `enabled`)."""
    preference = preference_of(user)
    if preference is None or not preference.papra_url:
        raise BackendNotConfigured("Papra is not configured in your settings.", backend="papra")
    return papra_backend.client_from_preference(preference)


class OrganizationSerializer(FastSerializer):
    id = serializers.CharField()
    name = serializers.CharField()


class SearchQuerySerializer(FastSerializer):
    query = serializers.CharField(required=False, allow_blank=True, max_length=1024, default="")
    page = serializers.IntegerField(required=False, min_value=0, max_value=100_000, default=0)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=20
    )


class PapraDocumentSerializer(FastSerializer):
    id = serializers.CharField()
    name = serializers.CharField()
    created = serializers.CharField(allow_null=True)
    mime = serializers.CharField(allow_null=True)
    size = serializers.IntegerField(allow_null=True)


class LinkPapraSerializer(FastSerializer):
    papra_document_id = serializers.CharField(max_length=255)
    description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=1000
    )

    def validate_papra_document_id(self, value: str) -> str:
        value = value.strip()
        if not papra_backend.is_document_id(value):
            raise serializers.ValidationError(
                "Not a Papra document id (doc_ followed by 24 letters or digits)."
            )
        return value


class PapraOrganizationsView(ApiView):
    @extend_schema(responses=OrganizationSerializer(many=True), tags=PAPRA_TAGS)
    def get(self, request):
        """The organizations the saved Papra API key's account belongs to: [{id, name}]."""
        return Response(papra_client(request.user).organizations())


class PapraSearchView(ApiView):
    throttle_scope = "search"

    @extend_schema(
        parameters=[
            OpenApiParameter("query", str, required=False),
            OpenApiParameter("page", int, required=False, description="0-based, as Papra's"),
            OpenApiParameter("page_size", int, required=False, description="1-100"),
        ],
        responses=inline_serializer(
            "PapraSearchResult",
            {"results": PapraDocumentSerializer(many=True), "count": serializers.IntegerField()},
        ),
        tags=PAPRA_TAGS,
    )
    def get(self, request):
        """The documents of the user's Papra organization matching `query` (all when empty),
        one page at a time."""
        form = SearchQuerySerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        wanted = form.validated_data
        client = backend_for(papra_backend.NAME, request.user)
        results, count = client.search(wanted["query"], wanted["page"], wanted["page_size"])
        return Response({"results": results, "count": count})


class LinkPapraView(ApiView):
    parser_classes = [SafeJSONParser, SafeFormParser]

    def get_throttles(self):
        self.throttle_scope = "upload"
        return super().get_throttles()

    @extend_schema(request=LinkPapraSerializer, responses=s.EntityFileSerializer, tags=TAGS)
    def post(self, request, entity_type, entity_id):
        """Attaches an existing Papra document to a record (EDIT on its patient); name, type
        and size come from Papra. The bytes stay in Papra and open through our views."""
        target, patient_id = record_in_reach(request.user, entity_type, entity_id, Level.EDIT)
        form = LinkPapraSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        entity_file = link_document(
            user=request.user,
            client=backend_for(papra_backend.NAME, request.user),
            entity=target,
            entity_id=int(entity_id),
            patient_id=patient_id,
            document_id=form.validated_data["papra_document_id"],
            description=(form.validated_data.get("description") or "").strip(),
            ip=client_ip(request),
        )
        return Response(s.EntityFileSerializer(entity_file).data)


class SyncPapraView(ApiView):
    parser_classes = [SafeJSONParser, SafeFormParser]

    @extend_schema(
        request=None,
        responses=inline_serializer("PapraSyncResult", {"<file_id>": serializers.BooleanField()}),
        tags=TAGS,
    )
    def post(self, request):
        """Checks that the caller's Papra files still exist there: {file_id: bool}; a false
        one is marked `missing` (kept, never deleted). Needs Papra enabled."""
        return Response(sync_user_files(user=request.user))
