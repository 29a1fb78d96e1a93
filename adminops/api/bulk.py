"""/admin/bulk: one change to many rows of one model, for admins only (401 anonymous, 403
others).

- POST admin/bulk/delete {model_name, record_ids}
- POST admin/bulk/update {model_name, record_ids, update_data}

Each row is checked as a single change through /admin/models would be (the ModelAdmin's
permissions, the model's validation, the users' guards, rows that protect it); rows that
cannot be changed are answered in `failed_records` with the reason, the others are applied
together in one transaction. Each change is logged for the activity log like any other.
Included under /api/v1/ by adminops/api/urls.py.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from adminops import admin_records, registry
from medikeep.api.exceptions import FieldValidationError
from medikeep.api.permissions import IsAdmin
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView

TAGS = ["admin-bulk"]
MAX_RECORDS = 1000


class BulkDeleteSerializer(FastSerializer):
    model_name = serializers.CharField(max_length=100)
    record_ids = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=MAX_RECORDS,
        help_text=f"Ids of the rows (at most {MAX_RECORDS}).",
    )


class BulkUpdateSerializer(BulkDeleteSerializer):
    update_data = serializers.DictField(
        child=serializers.JSONField(), help_text="Field values applied to every row."
    )


class AdminBulkFailureSerializer(FastSerializer):
    id = serializers.JSONField()
    error = serializers.CharField()


class AdminBulkResultSerializer(FastSerializer):
    success = serializers.BooleanField(help_text="Every row was changed.")
    affected_records = serializers.IntegerField()
    failed_records = AdminBulkFailureSerializer(many=True)
    message = serializers.CharField()


def _record_ids(entry: registry.AdminModel, raw_ids: list[Any]) -> list[Any]:
    """The ids as the model's primary key takes them, each once, in the order sent."""
    ids: list[Any] = []
    bad: list[str] = []
    for raw in raw_ids:
        value = (
            None
            if isinstance(raw, bool | dict | list) or raw is None
            else registry.pk_value(entry, raw)
        )
        if value is None:
            bad.append(repr(raw))
        elif value not in ids:
            ids.append(value)
    if bad:
        raise FieldValidationError("record_ids", f"Not ids of {entry.name}: {', '.join(bad[:10])}.")
    return ids


def _answer(result: admin_records.BulkResult, *, entry, verb: str, requested: int) -> Response:
    done = len(result.affected)
    if result.failed:
        message = f"{verb.capitalize()} {done} of {requested} {entry.name} records; "
        message += f"{len(result.failed)} could not be {verb}."
    else:
        message = f"Successfully {verb} {done} {entry.name} records"
    return Response(
        {
            "success": not result.failed,
            "affected_records": done,
            "failed_records": result.failed,
            "message": message,
        }
    )


class AdminBulkView(ApiView):
    permission_classes = [IsAuthenticated, IsAdmin]


class BulkDeleteView(AdminBulkView):
    """Deletes the rows (and what cascades from each); rows that may not go are listed."""

    @extend_schema(request=BulkDeleteSerializer, responses=AdminBulkResultSerializer, tags=TAGS)
    def post(self, request):
        body = BulkDeleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = registry.admin_model(body.validated_data["model_name"])
        ids = _record_ids(entry, body.validated_data["record_ids"])
        result = admin_records.bulk_delete(entry=entry, request=request, ids=ids)
        return _answer(result, entry=entry, verb="deleted", requested=len(ids))


class BulkUpdateView(AdminBulkView):
    """Sets the same field values on every row; rows that fail validation are listed."""

    @extend_schema(request=BulkUpdateSerializer, responses=AdminBulkResultSerializer, tags=TAGS)
    def post(self, request):
        body = BulkUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = registry.admin_model(body.validated_data["model_name"])
        ids = _record_ids(entry, body.validated_data["record_ids"])
        data = body.validated_data["update_data"]
        if not data:
            raise FieldValidationError("update_data", "Name at least one field to change.")
        result = admin_records.bulk_update(entry=entry, request=request, ids=ids, data=data)
        return _answer(result, entry=entry, verb="updated", requested=len(ids))


urlpatterns = [
    path("admin/bulk/delete", BulkDeleteView.as_view(), name="admin-bulk-delete"),
    path("admin/bulk/update", BulkUpdateView.as_view(), name="admin-bulk-update"),
]
