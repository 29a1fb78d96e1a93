"""Paperless-ngx endpoints: document search, the upload task's status, the web app's
background-task bookkeeping, cleanup, linking a document to a record, sync, and the
contract's /paperless/upload, /paperless/sync and /paperless/documents.

Calls to Paperless use the caller's saved settings (files.backends.backend_for); the token
never appears in an answer. Unreachable / refused / error answers → 502, too slow → 504, each
with the reason; not set up → 400. Settings and test-connection are the settings module's.
"""

from __future__ import annotations

import logging

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from files import services
from files.api import serializers as s
from files.api.views import TAGS, file_in_reach, record_in_reach
from files.backends import BackendError, backend_for, remote
from files.backends.paperless import NAME
from files.models import EntityFile, StorageBackend, SyncStatus
from medikeep.api.exceptions import ConflictError
from medikeep.api.parsers import SafeFormParser, SafeJSONParser, SafeMultiPartParser
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from patients.access import Level, accessible_patient_ids

logger = logging.getLogger("files")

PAPERLESS_TAGS = ["paperless"]
MAX_PAGE_SIZE = 100
PARSERS = [SafeJSONParser, SafeFormParser, SafeMultiPartParser]


def _my_paperless_files(user):
    """Live Paperless rows the caller put there (their own token reaches them)."""
    return EntityFile.objects.live().filter(
        storage_backend=StorageBackend.PAPERLESS, uploaded_by=user
    )


# --- search ------------------------------------------------------------------------------


class SearchQuerySerializer(FastSerializer):
    query = serializers.CharField(required=False, allow_blank=True, max_length=1024, default="")
    page = serializers.IntegerField(required=False, min_value=1, max_value=100_000, default=1)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=25
    )
    exclude_linked = serializers.BooleanField(required=False, default=False)


class PaperlessDocumentSerializer(FastSerializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    created = serializers.CharField(allow_null=True)
    original_file_name = serializers.CharField()
    correspondent = serializers.IntegerField(allow_null=True)
    correspondent_name = serializers.CharField(allow_null=True)
    document_type = serializers.IntegerField(allow_null=True)
    document_type_name = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.IntegerField())
    tag_names = serializers.ListField(child=serializers.CharField())


SearchAnswer = inline_serializer(
    "PaperlessSearchAnswer",
    {"results": PaperlessDocumentSerializer(many=True), "count": serializers.IntegerField()},
)


class PaperlessSearchView(ApiView):
    def get_throttles(self):
        self.throttle_scope = "search"
        return super().get_throttles()

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchAnswer, tags=PAPERLESS_TAGS)
    def get(self, request):
        """Searches the caller's Paperless documents (full-text `query`, 1-based `page`).
        `exclude_linked` leaves out documents already linked to one of their records; the
        count then drops by the number left out of this page."""
        form = SearchQuerySerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        wanted = form.validated_data
        client = backend_for(NAME, request.user)
        results, count = client.search(wanted["query"].strip(), wanted["page"], wanted["page_size"])
        if wanted["exclude_linked"] and results:
            linked = set(
                _my_paperless_files(request.user)
                .filter(paperless_document_id__in=[str(d["id"]) for d in results])
                .values_list("paperless_document_id", flat=True)
            )
            kept = [d for d in results if str(d["id"]) not in linked]
            count -= len(results) - len(kept)
            results = kept
        return Response({"results": results, "count": max(count, 0)})


# --- task status ---------------------------------------------------------------------------


TaskStatusAnswer = inline_serializer(
    "PaperlessTaskStatus",
    {
        "task_id": serializers.CharField(),
        "status": serializers.ChoiceField(["PENDING", "STARTED", "SUCCESS", "FAILURE"]),
        "document_id": serializers.IntegerField(allow_null=True),
        "related_document": serializers.IntegerField(allow_null=True),
        "result": serializers.JSONField(),
        "error_type": serializers.CharField(allow_null=True),
        "error": serializers.CharField(allow_null=True),
        "file_id": serializers.IntegerField(),
        "sync_status": serializers.CharField(),
    },
)


def _task_answer(task_uuid: str, entity_file: EntityFile, state: dict) -> dict:
    document_id = state.get("document_id")
    number = int(document_id) if document_id and str(document_id).isdigit() else None
    return {
        "task_id": task_uuid,
        "status": state["status"],
        "document_id": number,
        "related_document": number,
        "result": {"document_id": number} if number else state.get("error"),
        "error_type": state.get("error_type"),
        "error": state.get("error"),
        "file_id": entity_file.pk,
        "sync_status": entity_file.sync_status,
    }


class PaperlessTaskStatusView(ApiView):
    @extend_schema(responses=TaskStatusAnswer, tags=PAPERLESS_TAGS)
    def get(self, request, task_uuid):
        """The Paperless consumer task of one of the caller's uploads. Once it succeeded the
        document id is kept on the file, and the local copy goes after the check of the
        checksum (the background task does the same if nobody asks)."""
        entity_file = (
            _my_paperless_files(request.user).filter(paperless_task_uuid=task_uuid).first()
        )
        if entity_file is None:
            raise NotFound("No upload of yours has this Paperless task.")
        if entity_file.paperless_document_id:
            state = {"status": "SUCCESS", "document_id": entity_file.paperless_document_id}
        else:
            state = backend_for(NAME, request.user).task_status(task_uuid)
            if state["status"] == "SUCCESS":
                remote.record_document_id(entity_file, state["document_id"])
                try:
                    remote.advance(entity_file.pk)
                except BackendError as exc:
                    # The document exists; confirming it is left to the background task.
                    logger.info("confirming file %s deferred: %s", entity_file.pk, exc)
                entity_file.refresh_from_db()
            elif state["status"] == "FAILURE" and entity_file.sync_status != SyncStatus.FAILED:
                remote.mark_failed(entity_file, state.get("error") or "Paperless-ngx refused it")
        return Response(_task_answer(task_uuid, entity_file, state))


# --- the web app's background-task bookkeeping ----------------------------------------------


class BackgroundTaskSerializer(FastSerializer):
    entity_type = serializers.CharField(max_length=50)
    entity_id = serializers.IntegerField(min_value=1, max_value=s.MAX_ID)
    file_name = serializers.CharField(max_length=255)
    task_uuid = serializers.CharField(max_length=255)
    sync_status = serializers.ChoiceField(
        ["processing", "synced", "failed"], required=False, default="processing"
    )
    task_result = serializers.JSONField(required=False, allow_null=True)


BookkeepingAnswer = inline_serializer(
    "PaperlessBackgroundTaskAnswer",
    {
        "message": serializers.CharField(),
        "file_id": serializers.IntegerField(),
        "sync_status": serializers.CharField(),
    },
)


class BackgroundTaskView(ApiView):
    """The web app reports an upload it kept polling in the background. We never take its
    word for the outcome: the row's task is checked with Paperless by our own task."""

    parser_classes = PARSERS
    final = False

    @extend_schema(
        request=BackgroundTaskSerializer, responses=BookkeepingAnswer, tags=PAPERLESS_TAGS
    )
    def post(self, request):
        form = BackgroundTaskSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        target, _ = record_in_reach(
            request.user, data["entity_type"], data["entity_id"], Level.EDIT
        )
        entity_file = (
            _my_paperless_files(request.user)
            .of_entity(target.name, data["entity_id"])
            .filter(Q(paperless_task_uuid=data["task_uuid"]) | Q(file_name=data["file_name"]))
            .order_by("-uploaded_at", "-id")
            .first()
        )
        if entity_file is None:
            raise NotFound("No Paperless upload of yours matches this task on that record.")
        if entity_file.paperless_task_uuid not in (None, "", data["task_uuid"]):
            raise ConflictError("That file belongs to another Paperless task.")
        if remote.has_local_copy(entity_file) and entity_file.sync_status != SyncStatus.FAILED:
            changes = {"paperless_task_uuid": data["task_uuid"]}
            if entity_file.sync_status == SyncStatus.PENDING:
                changes["sync_status"] = SyncStatus.PROCESSING
            EntityFile.objects.filter(pk=entity_file.pk).update(
                **changes, updated_at=timezone.now()
            )
            if self.final:
                remote.start_upload(entity_file, try_now=False)
            entity_file.refresh_from_db()
        return Response(
            {
                "message": "Noted; the server checks the task with Paperless-ngx itself.",
                "file_id": entity_file.pk,
                "sync_status": entity_file.sync_status,
            }
        )


# --- cleanup -------------------------------------------------------------------------------


class PaperlessCleanupView(ApiView):
    @extend_schema(
        request=None,
        responses=inline_serializer(
            "PaperlessCleanupAnswer",
            {
                "files_cleaned": serializers.IntegerField(),
                "files_deleted": serializers.IntegerField(),
            },
        ),
        tags=PAPERLESS_TAGS,
    )
    def post(self, request):
        """Tidies the caller's Paperless files on records they may edit. Cleaned: uploads
        that failed for good go back to local storage (their bytes never left; they open as
        before). Deleted: rows whose document is missing in Paperless and that have no local
        copy (nothing can open them) move to the trash, restorable as any deleted file."""
        mine = _my_paperless_files(request.user).filter(
            patient_id__in=accessible_patient_ids(request.user, Level.EDIT)
        )
        cleaned = 0
        for entity_file in mine.filter(sync_status=SyncStatus.FAILED):
            if remote.has_local_copy(entity_file):
                services.update_metadata(
                    user=request.user,
                    entity_file=entity_file,
                    changes={
                        "storage_backend": StorageBackend.LOCAL,
                        "sync_status": SyncStatus.SYNCED,
                        "paperless_task_uuid": None,
                        "paperless_document_id": None,
                    },
                    ip=client_ip(request),
                )
                cleaned += 1
        deleted = 0
        for entity_file in mine.filter(sync_status=SyncStatus.MISSING):
            if not remote.has_local_copy(entity_file):
                services.trash(
                    user=request.user,
                    entity_file=entity_file,
                    reason="missing in Paperless-ngx",
                    ip=client_ip(request),
                )
                deleted += 1
        return Response({"files_cleaned": cleaned, "files_deleted": deleted})


# --- link, sync, upload ------------------------------------------------------------------------


class LinkPaperlessSerializer(FastSerializer):
    paperless_document_id = serializers.CharField(max_length=20)
    description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=1000
    )

    def validate_paperless_document_id(self, value: str) -> str:
        value = value.strip()
        if not value.isdigit() or int(value) < 1 or int(value) > s.MAX_ID:
            raise serializers.ValidationError("A Paperless-ngx document id is a positive number.")
        return str(int(value))


class LinkPaperlessView(ApiView):
    parser_classes = PARSERS

    @extend_schema(request=LinkPaperlessSerializer, responses=s.EntityFileSerializer, tags=TAGS)
    def post(self, request, entity_type, entity_id):
        """Attaches an existing Paperless document to a record (EDIT); name, type and size
        are read from Paperless, the bytes stay there."""
        target, patient_id = record_in_reach(request.user, entity_type, entity_id, Level.EDIT)
        form = LinkPaperlessSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        document_id = form.validated_data["paperless_document_id"]
        if (
            EntityFile.objects.live()
            .of_entity(target.name, int(entity_id))
            .filter(storage_backend=StorageBackend.PAPERLESS, paperless_document_id=document_id)
            .exists()
        ):
            raise ConflictError("This Paperless-ngx document is already linked to this record.")
        entity_file = remote.link_document(
            user=request.user,
            backend=NAME,
            document_id=document_id,
            entity_name=target.name,
            entity_id=int(entity_id),
            patient_id=patient_id,
            description=(form.validated_data.get("description") or "").strip(),
        )
        return Response(s.EntityFileSerializer(entity_file).data)


class SyncPaperlessView(ApiView):
    parser_classes = PARSERS

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='{"<file_id>": true | false}: false = gone in Paperless-ngx.',
            )
        },
        summary="Check that your Paperless-ngx files still exist there",
        tags=TAGS,
    )
    def post(self, request):
        """{file_id: true|false} for the caller's files in Paperless; false = the document
        is gone there (the row is marked missing, never removed)."""
        return Response(remote.sync(request.user, NAME))


class PaperlessUploadSerializer(FastSerializer):
    document_id = serializers.IntegerField(
        min_value=1, max_value=s.MAX_ID, help_text="The id of one of our entity files."
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=128), required=False)
    correspondent = serializers.CharField(max_length=128, required=False, allow_blank=True)


class PaperlessUploadView(ApiView):
    parser_classes = PARSERS

    @extend_schema(
        summary="Send a stored file to Paperless-ngx",
        request=PaperlessUploadSerializer,
        responses=s.EntityFileSerializer,
        tags=PAPERLESS_TAGS,
    )
    def post(self, request):
        """Sends one of our local files (`document_id` = its entity
        file id; EDIT on its record) to the caller's Paperless; the answer carries the task
        id to poll. The local copy goes once Paperless confirms the document. `tags` and
        `correspondent` are names, given to the document (made in Paperless if missing)."""
        form = PaperlessUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        entity_file = file_in_reach(request.user, form.validated_data["document_id"], Level.EDIT)
        if entity_file.storage_backend != StorageBackend.LOCAL:
            raise ConflictError(
                f"This file is already kept in {remote.backend_label(entity_file.storage_backend)}."
            )
        remote.check_target(NAME, request.user)
        labels = {
            "tags": [t.strip() for t in form.validated_data.get("tags", []) if t.strip()],
            "correspondent": form.validated_data.get("correspondent", "").strip(),
        }
        services.update_metadata(
            user=request.user,
            entity_file=entity_file,
            changes={
                "storage_backend": StorageBackend.PAPERLESS,
                "sync_status": SyncStatus.PENDING,
                "uploaded_by": request.user,
                "remote_labels": labels,
            },
            ip=client_ip(request),
        )
        remote.start_upload(entity_file)
        entity_file.refresh_from_db()
        return Response(s.EntityFileSerializer(entity_file).data)
