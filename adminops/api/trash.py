"""/admin/trash: the entity files in the trash, for admins only (401 anonymous, 403 others).

- GET    admin/trash                     — every file in the trash, newest first;
- POST   admin/trash/cleanup             — purges the files past the retention window now;
- POST   admin/trash/restore             — puts one file back on its record;
- DELETE admin/trash/permanently-delete  — deletes one file for good (bytes, then row).

The reference keeps its trash as a folder and names entries by their path there; ours is a
column on EntityFile (the bytes never move), so `trash_path` is an opaque name that points
back at the row: "entity-file:<id>" (what the list answers), the bare id, or the stored name.
A file goes back to the record it was attached to, never elsewhere. The work is done by
files.services, which also writes the activity log rows (restore, purge) with the operator.
Included under /api/v1/ by adminops/api/urls.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db.models import BooleanField, Case, Exists, OuterRef, Value, When
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from files import services
from files.entity_types import canonical_types, find_type
from files.models import EntityFile
from medikeep.api.exceptions import FieldValidationError
from medikeep.api.permissions import IsAdmin
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip

TAGS = ["admin-trash"]
TRASH_PATH_PREFIX = "entity-file:"
MAX_ID = 2**63 - 1  # BigAutoField: a larger number would overflow the database's integer


def trash_path_of(entity_file: EntityFile) -> str:
    return f"{TRASH_PATH_PREFIX}{entity_file.pk}"


def original_path_of(entity_file: EntityFile) -> str:
    return f"{entity_file.entity_type}/{entity_file.entity_id}/{entity_file.file_name}"


def trashed_file(trash_path: str) -> EntityFile:
    """The file in the trash that `trash_path` names; 404 when none does (a file that is not
    in the trash, or no longer exists, is not found here)."""
    files = EntityFile.objects.trashed()
    key = trash_path.removeprefix(TRASH_PATH_PREFIX)
    if key.isascii() and key.isdigit():
        found = files.filter(pk=int(key)).first() if int(key) <= MAX_ID else None
    else:
        found = files.filter(stored_name=trash_path).first()
    if found is None:
        raise NotFound(f"No file in the trash has trash_path {trash_path!r}.")
    return found


def _with_restorable(queryset):
    """Annotates `restorable`: the file's record still exists and still belongs to the file's
    patient (what services.restore requires). One EXISTS per record type, one query in all."""
    whens = [
        When(
            entity_type=entity.name,
            then=Exists(
                entity.model._default_manager.filter(
                    pk=OuterRef("entity_id"), patient_id=OuterRef("patient_id")
                )
            ),
        )
        for entity in canonical_types()
    ]
    return queryset.annotate(
        restorable=Case(*whens, default=Value(False), output_field=BooleanField())
    )


# --- serializers ----------------------------------------------------------------------------


_DATETIME = serializers.DateTimeField()


class TrashItemSerializer(FastSerializer):
    id = serializers.IntegerField()
    filename = serializers.CharField(source="file_name")
    original_path = serializers.SerializerMethodField(
        help_text="Where the file belongs: <entity_type>/<entity_id>/<file name>."
    )
    trash_path = serializers.SerializerMethodField(
        help_text="Names this file to restore and permanently-delete."
    )
    deleted_at = serializers.DateTimeField(source="trashed_at")
    deleted_by = serializers.SerializerMethodField(help_text="Username, when known.")
    reason = serializers.CharField(source="trash_reason")
    size_bytes = serializers.IntegerField(source="file_size")
    file_type = serializers.CharField()
    entity_type = serializers.CharField()
    entity_id = serializers.IntegerField()
    patient_id = serializers.IntegerField(allow_null=True)
    restorable_until = serializers.SerializerMethodField(help_text="After this the file is purged.")
    restorable = serializers.BooleanField(
        help_text="Its record still exists, so a restore can put it back."
    )

    def get_original_path(self, obj) -> str:
        return original_path_of(obj)

    def get_trash_path(self, obj) -> str:
        return trash_path_of(obj)

    def get_deleted_by(self, obj) -> str | None:
        return obj.trashed_by.username if obj.trashed_by_id else None

    def get_restorable_until(self, obj) -> datetime:
        # Rendered as deleted_at is (a method field's datetime would reach the JSON encoder,
        # which cuts it to milliseconds).
        days = self.context.get("trash_retention_days")  # read once per list by the view
        return _DATETIME.to_representation(services.restore_until(obj, days=days))


class TrashCleanupSerializer(FastSerializer):
    deleted_count = serializers.IntegerField()
    freed_bytes = serializers.IntegerField()
    deleted_files = serializers.IntegerField(help_text="The web app's name for deleted_count.")
    deleted_dirs = serializers.IntegerField(help_text="Always 0: the trash has no folders.")


class TrashPathSerializer(FastSerializer):
    trash_path = serializers.CharField(
        max_length=1000, help_text='As listed, e.g. "entity-file:12" (or the stored name).'
    )


class TrashRestoreSerializer(TrashPathSerializer):
    restore_path = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=1000,
        help_text="Optional; files go back to their own record, so only the original_path "
        "(or its <entity_type>/<entity_id>) is accepted.",
    )


class TrashActionSerializer(FastSerializer):
    status = serializers.CharField()
    message = serializers.CharField()
    file_id = serializers.IntegerField()


# --- views ----------------------------------------------------------------------------------


def _arguments(request, serializer_class) -> dict:
    """The fields from the JSON (or form) body, else from the query string: the web app sends
    a body, the contract puts them in the query."""
    body = request.data if isinstance(request.data, Mapping) else {}
    data = {}
    for name in serializer_class._declared_fields:
        if name in body:
            data[name] = body[name]
        elif name in request.query_params:
            data[name] = request.query_params.get(name)
    form = serializer_class(data=data)
    form.is_valid(raise_exception=True)
    return form.validated_data


def _check_restore_path(entity_file: EntityFile, restore_path: str | None) -> None:
    if not restore_path or not restore_path.strip():
        return
    parts = [part for part in restore_path.strip().split("/") if part not in ("", ".")]
    target = find_type(parts[0]) if parts else None
    same_record = (
        target is not None
        and target.name == entity_file.entity_type
        and len(parts) >= 2
        and parts[1] == str(entity_file.entity_id)
        and (len(parts) == 2 or "/".join(parts[2:]) == entity_file.file_name)
    )
    if not same_record:
        raise FieldValidationError(
            "restore_path",
            "A file goes back to its own record; leave restore_path out or give "
            f"{original_path_of(entity_file)!r}.",
        )


class AdminTrashView(ApiView):
    permission_classes = [IsAuthenticated, IsAdmin]


class TrashListView(AdminTrashView):
    """Every file in the trash, newest first, with whether its record still exists."""

    @extend_schema(responses=TrashItemSerializer(many=True), tags=TAGS)
    def get(self, request):
        files = _with_restorable(
            EntityFile.objects.trashed().select_related("trashed_by").order_by("-trashed_at", "-id")
        )
        days = services.trash_retention_days()
        return Response(
            TrashItemSerializer(files, many=True, context={"trash_retention_days": days}).data
        )


class TrashCleanupView(AdminTrashView):
    """Purges the files whose retention window has passed, now rather than at the nightly run."""

    @extend_schema(request=None, responses=TrashCleanupSerializer, tags=TAGS)
    def post(self, request):
        result = services.empty_expired_trash(user=request.user, ip=client_ip(request))
        body = {
            **result,
            "deleted_files": result["deleted_count"],
            "deleted_dirs": 0,
        }
        return Response(TrashCleanupSerializer(body).data)


class TrashRestoreView(AdminTrashView):
    """Puts a file back on its record; 400 when that record (or its patient) is gone."""

    @extend_schema(
        request=TrashRestoreSerializer,
        parameters=[
            OpenApiParameter("trash_path", OpenApiTypes.STR, description="Or in the body."),
            OpenApiParameter("restore_path", OpenApiTypes.STR, description="Or in the body."),
        ],
        responses=TrashActionSerializer,
        tags=TAGS,
    )
    def post(self, request):
        arguments = _arguments(request, TrashRestoreSerializer)
        entity_file = trashed_file(arguments["trash_path"])
        _check_restore_path(entity_file, arguments.get("restore_path"))
        services.restore(user=request.user, entity_file=entity_file, ip=client_ip(request))
        return Response(
            TrashActionSerializer(
                {
                    "status": "success",
                    "message": "File restored to its record "
                    f"({entity_file.entity_type} {entity_file.entity_id}).",
                    "file_id": entity_file.pk,
                }
            ).data
        )


class TrashPermanentDeleteView(AdminTrashView):
    """Deletes a file in the trash for good: its bytes, then its row. It cannot be restored."""

    @extend_schema(
        parameters=[
            OpenApiParameter("trash_path", OpenApiTypes.STR, required=True),
        ],
        responses=TrashActionSerializer,
        tags=TAGS,
    )
    def delete(self, request):
        arguments = _arguments(request, TrashPathSerializer)
        entity_file = trashed_file(arguments["trash_path"])
        file_id = entity_file.pk
        services.purge(user=request.user, entity_file=entity_file, ip=client_ip(request))
        return Response(
            TrashActionSerializer(
                {"status": "success", "message": "File permanently deleted.", "file_id": file_id}
            ).data
        )


urlpatterns = [
    path("admin/trash", TrashListView.as_view(), name="admin-trash"),
    path("admin/trash/cleanup", TrashCleanupView.as_view(), name="admin-trash-cleanup"),
    path("admin/trash/restore", TrashRestoreView.as_view(), name="admin-trash-restore"),
    path(
        "admin/trash/permanently-delete",
        TrashPermanentDeleteView.as_view(),
        name="admin-trash-permanently-delete",
    ),
]
