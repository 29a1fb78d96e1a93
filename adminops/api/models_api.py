"""/admin/models: every model registered in the Django admin, for admins only (401 anonymous,
403 others).

- GET    admin/models                               — the models ({name, display_name, …});
- GET    admin/models/{model}/metadata              — fields, types, choices, relations;
- GET    admin/models/{model}                       — a page of rows (page, per_page ≤ 100, search);
- POST   admin/models/{model}                       — creates a row (201);
- GET    admin/models/{model}/export                — the rows as CSV (streamed; search applies);
- GET    admin/models/{model}/{id}                  — one row;
- PUT    admin/models/{model}/{id}                  — changes the fields sent (PATCH alike);
- DELETE admin/models/{model}/{id}                  — deletes it (`?dry_run=true`: what would go);
- POST   admin/models/users/{id}/reset-password     — sets a user's password.

Which models, and what may be done to each, is the ModelAdmin's say (adminops/registry.py);
the changes themselves are adminops/admin_records.py. Included under /api/v1/ by
adminops/api/urls.py.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime

from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from adminops import admin_records, registry
from medikeep.api.exceptions import FieldValidationError
from medikeep.api.permissions import IsAdmin
from medikeep.api.representation import FastSerializer
from medikeep.api.serializers import MessageSerializer
from medikeep.api.views import ApiView

TAGS = ["admin-models"]
PER_PAGE_DEFAULT, PER_PAGE_MAX = 25, 100
MAX_PAGE = 10**7
EXPORT_CHUNK = 1000
# Cells a spreadsheet would run as a formula are prefixed with a quote (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes"}, {"false", "0", "no", ""}


# --- serializers ----------------------------------------------------------------------------


class ModelSummarySerializer(FastSerializer):
    name = serializers.CharField(help_text='snake_case model name, e.g. "lab_result".')
    display_name = serializers.CharField()
    verbose_name_plural = serializers.CharField()
    description = serializers.CharField()
    app_label = serializers.CharField()


class FieldMetadataSerializer(FastSerializer):
    name = serializers.CharField(help_text="The column's name (a foreign key as <name>_id).")
    type = serializers.CharField(
        help_text="integer, number, string, text, email, boolean, date, datetime, time, "
        "duration, json, uuid, file, or password (write-only, users' creation only)."
    )
    nullable = serializers.BooleanField()
    primary_key = serializers.BooleanField()
    required = serializers.BooleanField(help_text="Needed when creating a row.")
    editable = serializers.BooleanField(help_text="May be written through this API.")
    verbose_name = serializers.CharField()
    foreign_key = serializers.CharField(required=False, help_text="<table>.<column>")
    related_model = serializers.CharField(required=False)
    max_length = serializers.IntegerField(required=False)
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    choice_labels = serializers.DictField(child=serializers.CharField(), required=False)
    help_text = serializers.CharField(required=False)
    write_only = serializers.BooleanField(required=False)


class ModelPermissionsSerializer(FastSerializer):
    view = serializers.BooleanField()
    add = serializers.BooleanField()
    change = serializers.BooleanField()
    delete = serializers.BooleanField()


class ModelMetadataSerializer(ModelSummarySerializer):
    table_name = serializers.CharField()
    fields = FieldMetadataSerializer(many=True)
    relationships = serializers.DictField(
        child=serializers.CharField(), help_text="Foreign key name -> related model class."
    )
    search_fields = serializers.ListField(child=serializers.CharField())
    permissions = ModelPermissionsSerializer()


class RecordListQuerySerializer(FastSerializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_PAGE)
    per_page = serializers.IntegerField(
        required=False,
        default=PER_PAGE_DEFAULT,
        min_value=1,
        max_value=10**9,
        help_text=f"Rows per page (default {PER_PAGE_DEFAULT}; more than {PER_PAGE_MAX} "
        f"gives {PER_PAGE_MAX}).",
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Searched in the ModelAdmin's search_fields.",
    )


class RecordExportQuerySerializer(FastSerializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)


class RecordPageSerializer(FastSerializer):
    items = serializers.ListField(child=serializers.DictField())
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    per_page = serializers.IntegerField()
    total_pages = serializers.IntegerField()
    model_name = serializers.CharField()


class AdminDeletionSerializer(FastSerializer):
    message = serializers.CharField()
    deleted_id = serializers.JSONField(help_text="The id of the deleted row.")
    deleted = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows deleted per model, cascades included."
    )


class AdminPasswordResetSerializer(FastSerializer):
    new_password = serializers.CharField(
        max_length=1000, trim_whitespace=False, help_text="Checked by the password policy."
    )


# --- views ----------------------------------------------------------------------------------


class AdminModelsView(ApiView):
    permission_classes = [IsAuthenticated, IsAdmin]


def _viewable(model_name: str, request) -> registry.AdminModel:
    entry = registry.admin_model(model_name)
    if not entry.admin.has_view_or_change_permission(request):
        raise PermissionDenied(f"Records of {entry.name} cannot be viewed here.")
    return entry


class ModelListView(AdminModelsView):
    """The models an admin may manage: those registered in the Django admin."""

    @extend_schema(
        responses=ModelSummarySerializer(many=True), tags=TAGS, operation_id="admin_models_list"
    )
    def get(self, request):
        return Response(
            [registry.model_summary(entry) for entry in registry.admin_models().values()]
        )


class ModelMetadataView(AdminModelsView):
    """Fields (type, nullability, length, choices, foreign key), relations, names, search
    fields and what this API may do with the model."""

    @extend_schema(responses=ModelMetadataSerializer, tags=TAGS)
    def get(self, request, model_name: str):
        entry = _viewable(model_name, request)
        return Response(registry.model_metadata(entry, request))


def _record_response(entry: registry.AdminModel, obj, code=status.HTTP_200_OK) -> Response:
    return Response(registry.record_json(obj), status=code)


class RecordListView(AdminModelsView):
    """A page of rows, in the admin's order; or a new row."""

    @extend_schema(
        summary="List the rows of a model",
        parameters=[RecordListQuerySerializer],
        responses=RecordPageSerializer,
        tags=TAGS,
        operation_id="admin_models_records_list",
    )
    def get(self, request, model_name: str):
        entry = _viewable(model_name, request)
        query = RecordListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = query.validated_data["page"]
        per_page = min(query.validated_data["per_page"], PER_PAGE_MAX)
        rows = registry.ordered_queryset(entry, request)
        rows = registry.search(entry, request, rows, query.validated_data.get("search", ""))
        total = rows.count()
        fields = registry.readable_fields(entry.model)
        start = (page - 1) * per_page
        items = [registry.record_json(obj, fields) for obj in rows[start : start + per_page]]
        return Response(
            {
                "items": items,
                "total": total,
                "page": page,
                "per_page": per_page,
                "total_pages": math.ceil(total / per_page),
                "model_name": entry.name,
            }
        )

    @extend_schema(
        summary="Create a row of a model",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        tags=TAGS,
        description="Field values by name (a foreign key as <name>_id or <name>). A user "
        "also takes `password`, checked by the password policy.",
    )
    def post(self, request, model_name: str):
        entry = registry.admin_model(model_name)
        obj = admin_records.record_create(entry=entry, request=request, data=request.data)
        return _record_response(entry, obj, status.HTTP_201_CREATED)


def _csv_cell(value) -> str:
    value = registry.json_value(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, default=str)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


class RecordExportView(AdminModelsView):
    """Every row (or those the search finds) as CSV, streamed in chunks."""

    def perform_content_negotiation(self, request, force=False):
        # The body is CSV whatever the client accepts; errors still render as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[RecordExportQuerySerializer],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
        tags=TAGS,
    )
    def get(self, request, model_name: str):
        entry = _viewable(model_name, request)
        query = RecordExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = registry.ordered_queryset(entry, request)
        rows = registry.search(entry, request, rows, query.validated_data.get("search", ""))
        fields = registry.readable_fields(entry.model)
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow([field.attname for field in fields])
            for obj in rows.iterator(chunk_size=EXPORT_CHUNK):
                yield writer.writerow([_csv_cell(getattr(obj, f.attname)) for f in fields])

        stamp = timezone.now().strftime("%Y%m%d_%H%M%S")
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{entry.name}_export_{stamp}.csv"'
        return response


def _dry_run(request) -> bool:
    raw = request.query_params.get("dry_run")
    if raw is None:
        return False
    word = raw.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise FieldValidationError("dry_run", "Expected true or false.")
    return word in TRUE_WORDS


class RecordDetailView(AdminModelsView):
    """One row: read, change the fields sent, or delete it with what cascades from it."""

    @extend_schema(summary="Get a row of a model", responses=OpenApiTypes.OBJECT, tags=TAGS)
    def get(self, request, model_name: str, record_id: str):
        entry = _viewable(model_name, request)
        return _record_response(entry, registry.get_record(entry, request, record_id))

    @extend_schema(
        summary="Change a row of a model",
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
        tags=TAGS,
        description="Changes only the fields sent. Passwords are refused (use reset-password).",
    )
    def put(self, request, model_name: str, record_id: str):
        entry = _viewable(model_name, request)
        obj = registry.get_record(entry, request, record_id)
        obj = admin_records.record_update(entry=entry, request=request, obj=obj, data=request.data)
        return _record_response(entry, obj)

    @extend_schema(
        summary="Change some fields of a row",
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
        tags=TAGS,
    )
    def patch(self, request, model_name: str, record_id: str):
        return self.put(request, model_name, record_id)

    @extend_schema(
        summary="Delete a row of a model, with what cascades from it",
        parameters=[
            OpenApiParameter(
                "dry_run",
                OpenApiTypes.BOOL,
                description="Only answer what the deletion would take with it.",
            )
        ],
        responses={200: AdminDeletionSerializer, 409: OpenApiTypes.OBJECT},
        tags=TAGS,
        description="Refuses the last user, the last active admin and your own account (400), "
        "and a row that other rows protect (409, naming them). With dry_run=true nothing is "
        "deleted and the answer is {dry_run, can_delete, would_delete, protected, message}.",
    )
    def delete(self, request, model_name: str, record_id: str):
        entry = _viewable(model_name, request)
        obj = registry.get_record(entry, request, record_id)
        if _dry_run(request):
            plan = admin_records.check_deletable(entry, request, obj, refuse_protected=False)
            message = (
                "Deleting it would delete the rows listed in would_delete."
                if plan.can_delete
                else admin_records.protected_message(entry, obj, plan)
            )
            return Response({"dry_run": True, **plan.as_dict(), "message": message})
        record_id_value = obj.pk
        plan = admin_records.record_delete(entry=entry, request=request, obj=obj)
        return Response(
            {
                "message": f"{entry.name} record {record_id_value} deleted successfully",
                "deleted_id": record_id_value,
                "deleted": plan.would_delete,
            }
        )


class UserPasswordResetView(AdminModelsView):
    """Sets a user's password (the password policy applies); signs the user out everywhere."""

    @extend_schema(request=AdminPasswordResetSerializer, responses=MessageSerializer, tags=TAGS)
    def post(self, request, model_name: str, record_id: str):
        entry = registry.admin_model(model_name)
        if not registry.is_user_model(entry.model):
            raise NotFound("Passwords are reset on users only: /admin/models/users/{id}.")
        user = registry.get_record(entry, request, record_id)
        if not entry.admin.has_change_permission(request, user):
            raise PermissionDenied("Users cannot be changed here.")
        body = AdminPasswordResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        admin_records.user_password_reset(
            entry=entry,
            request=request,
            user=user,
            new_password=body.validated_data["new_password"],
        )
        return Response({"message": "Password reset successfully"})


urlpatterns = [
    path("admin/models", ModelListView.as_view(), name="admin-models"),
    path(
        "admin/models/<str:model_name>/metadata",
        ModelMetadataView.as_view(),
        name="admin-models-metadata",
    ),
    path(
        "admin/models/<str:model_name>/export",
        RecordExportView.as_view(),
        name="admin-models-export",
    ),
    path(
        "admin/models/<str:model_name>/<str:record_id>/reset-password",
        UserPasswordResetView.as_view(),
        name="admin-models-reset-password",
    ),
    path(
        "admin/models/<str:model_name>/<str:record_id>",
        RecordDetailView.as_view(),
        name="admin-models-record",
    ),
    path("admin/models/<str:model_name>", RecordListView.as_view(), name="admin-models-records"),
]
