"""/entity-files: list, upload, details, view, download, metadata, delete and batch counts
of the files attached to records; the lab-result paths older clients use are aliases.

Access (patients/access.py): VIEW lists, reads and downloads; EDIT uploads, edits metadata
and deletes (to the trash). A record or file of a patient the caller cannot see is a 404.
"""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from files import services, uploads
from files.api import serializers as s
from files.backends.remote import is_remote
from files.entity_types import ENTITY_TYPES, EntityType, find_type
from files.models import EntityFile
from files.streaming import StoredFileMissing, file_response, remote_file_response
from medikeep.api.exceptions import FieldValidationError
from medikeep.api.parsers import SafeFormParser, SafeJSONParser, SafeMultiPartParser
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from patients.access import Level, accessible_patient_ids, level_on

TAGS = ["entity-files"]
NO_RECORD = "Record not found."
NO_FILE = "File not found."


def _refuse_unless(user, patient_id, level: Level, not_found: str) -> None:
    current = level_on(user, patient_id)
    if current is None:
        raise NotFound(not_found)
    if current < level:
        raise PermissionDenied(
            f"Your access to this patient is {current.label}; this needs {level.label}."
        )


def record_in_reach(user, type_name: str, entity_id, level: Level) -> tuple[EntityType, int]:
    """The entity type and the record's patient; 404 for an unknown type or a record the
    user cannot see, 403 when they see it but may not do this."""
    target = find_type(type_name)
    if target is None:
        known = ", ".join(ENTITY_TYPES)
        raise NotFound(f"Files are not kept for '{type_name}' records. Known types: {known}.")
    patient_id = target.patient_of(int(entity_id))
    _refuse_unless(user, patient_id, level, NO_RECORD)
    return target, patient_id


def file_in_reach(user, file_id, level: Level, *, entity_type_name=None, entity_id=None):
    """A live file the user may act on at `level` (404 / 403 as for records); the lab-result
    aliases narrow it to files of that type (and record)."""
    files = EntityFile.objects.live().filter(pk=int(file_id))
    if entity_type_name is not None:
        files = files.filter(entity_type=find_type(entity_type_name).name)
    if entity_id is not None:
        files = files.filter(entity_id=int(entity_id))
    entity_file = files.first()
    _refuse_unless(user, entity_file and entity_file.patient_id, level, NO_FILE)
    return entity_file


class EntityFilesView(ApiView):
    """GET lists a record's files (VIEW); POST uploads one (EDIT)."""

    parser_classes = [SafeMultiPartParser, SafeFormParser]
    fixed_entity_type: str | None = None  # set for the lab-result aliases

    def get_throttles(self):
        self.throttle_scope = "upload" if self.request.method == "POST" else "standard"
        return super().get_throttles()

    def _type(self, entity_type):
        return self.fixed_entity_type or entity_type

    @extend_schema(
        summary="List the files of a record",
        description="The files attached to one record (`entity_type` such as lab-result, "
        "medication, encounter …, and its id), newest first; files in the trash are left "
        "out. Needs VIEW access to the record's patient (404 when you cannot see it).",
        responses=s.EntityFileSerializer(many=True),
        tags=TAGS,
    )
    def get(self, request, entity_id, entity_type=None):
        target, _ = record_in_reach(request.user, self._type(entity_type), entity_id, Level.VIEW)
        files = EntityFile.objects.live().of_entity(target.name, int(entity_id))
        return Response(s.EntityFileSerializer(files, many=True).data)

    @extend_schema(
        summary="Upload a file to a record",
        description="Send `multipart/form-data` with the `file` and optionally a "
        "`description`, a `category` and the `storage_backend` to keep it in (default: "
        "your preference). Needs EDIT access to the record's patient. The size, extension "
        "and content type are checked: an empty or refused file answers 422, one over the "
        "size limit 413. Uploads have their own rate limit. Answers the stored file's "
        "details; GET …/files/{file_id}/download returns the bytes.",
        request={"multipart/form-data": s.UploadFormSerializer},
        responses={200: s.EntityFileSerializer},
        examples=[
            OpenApiExample(
                "A lab report PDF",
                value={
                    "file": "(binary: report-2026-03.pdf)",
                    "description": "Blood panel, March",
                    "category": "lab-report",
                },
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
        tags=TAGS,
    )
    def post(self, request, entity_id, entity_type=None):
        target, patient_id = record_in_reach(
            request.user, self._type(entity_type), entity_id, Level.EDIT
        )
        uploads.prepare_request(request)
        upload = uploads.received_upload(request)
        form = s.UploadFormSerializer(data={**request.data.dict(), "file": upload})
        form.is_valid(raise_exception=True)
        entity_file = services.upload(
            user=request.user,
            entity=target,
            entity_id=int(entity_id),
            patient_id=patient_id,
            upload=upload,
            description=(form.validated_data.get("description") or "").strip(),
            category=(form.validated_data.get("category") or "").strip(),
            storage_backend=form.validated_data.get("storage_backend") or None,
            ip=client_ip(request),
        )
        return Response(s.EntityFileSerializer(entity_file).data)


class EntityFileView(ApiView):
    """GET the file's details (VIEW); DELETE moves it to the trash (EDIT)."""

    fixed_entity_type: str | None = None

    def _file(self, request, file_id, level, entity_id=None):
        return file_in_reach(
            request.user,
            file_id,
            level,
            entity_type_name=self.fixed_entity_type,
            entity_id=entity_id,
        )

    @extend_schema(
        summary="Get a file's details",
        description="Name, type, size, category, description and where the file is stored; "
        "needs VIEW access to the record's patient (404 when you cannot see it).",
        responses=s.EntityFileSerializer,
        tags=TAGS,
    )
    def get(self, request, file_id, entity_id=None):
        return Response(
            s.EntityFileSerializer(self._file(request, file_id, Level.VIEW, entity_id)).data
        )

    @extend_schema(
        summary="Move a file to the trash",
        description="The file leaves the record at once; an administrator can restore it "
        "until the trash retention window ends. Needs EDIT access to the record's patient.",
        responses=s.FileDeletedSerializer,
        tags=TAGS,
    )
    def delete(self, request, file_id, entity_id=None):
        entity_file = self._file(request, file_id, Level.EDIT, entity_id)
        services.trash(user=request.user, entity_file=entity_file, ip=client_ip(request))
        return Response(
            {
                "message": "File moved to the trash.",
                "file_id": entity_file.pk,
                "in_trash_until": services.restore_until(entity_file),
            }
        )


class EntityFileContentView(ApiView):
    """The bytes, inline (view) or as an attachment (download); needs VIEW."""

    as_attachment = False
    fixed_entity_type: str | None = None

    def perform_content_negotiation(self, request, force=False):
        # Viewers ask for image/*, application/pdf …; errors are still answered in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file (or the requested byte range: 206)."
            )
        },
        tags=TAGS,
    )
    def get(self, request, file_id):
        entity_file = file_in_reach(
            request.user, file_id, Level.VIEW, entity_type_name=self.fixed_entity_type
        )
        if is_remote(entity_file):
            return remote_file_response(request, entity_file, as_attachment=self.as_attachment)
        try:
            return file_response(request, entity_file, as_attachment=self.as_attachment)
        except StoredFileMissing as exc:
            raise NotFound("The file's content is missing from storage.") from exc


class EntityFileMetadataView(ApiView):
    parser_classes = [SafeJSONParser, SafeFormParser, SafeMultiPartParser]

    @extend_schema(request=s.MetadataSerializer, responses=s.EntityFileSerializer, tags=TAGS)
    def put(self, request, file_id):
        """Changes description, category or the display name (EDIT)."""
        entity_file = file_in_reach(request.user, file_id, Level.EDIT)
        form = s.MetadataSerializer(data=request.data, context={"entity_file": entity_file})
        form.is_valid(raise_exception=True)
        services.update_metadata(
            user=request.user,
            entity_file=entity_file,
            changes=form.validated_data,
            ip=client_ip(request),
        )
        return Response(s.EntityFileSerializer(entity_file).data)

    patch = put


class BatchCountsView(ApiView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        request=s.EntityRefSerializer(many=True),
        responses=s.FileCountSerializer(many=True),
        tags=TAGS,
    )
    def post(self, request):
        """File counts of many records in one query; records the caller cannot see count 0."""
        body = request.data
        form = s.BatchCountsSerializer(data={"entities": body} if isinstance(body, list) else body)
        form.is_valid(raise_exception=True)
        pairs = form.validated_data
        wanted: dict[str, set[int]] = {}
        for type_name, entity_id in pairs:
            target = find_type(type_name)
            if target is None:
                raise FieldValidationError("entity_type", f"Unknown entity type '{type_name}'.")
            wanted.setdefault(target.name, set()).add(entity_id)
        counts: dict[tuple[str, int], int] = {}
        if wanted:
            match = Q()
            for name, ids in wanted.items():
                match |= Q(entity_type=name, entity_id__in=sorted(ids))
            rows = (
                EntityFile.objects.live()
                .filter(match, patient_id__in=accessible_patient_ids(request.user, Level.VIEW))
                .values_list("entity_type", "entity_id")
                .annotate(count=Count("id"))
                .order_by()
            )
            counts = {(name, entity_id): count for name, entity_id, count in rows}
        return Response(
            [
                {
                    "entity_type": type_name,
                    "entity_id": entity_id,
                    "file_count": counts.get((find_type(type_name).name, entity_id), 0),
                }
                for type_name, entity_id in pairs
            ]
        )
