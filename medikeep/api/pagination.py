"""skip/limit pagination: bare JSON arrays, as the contract's list endpoints return."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response


class SkipLimitParams(serializers.Serializer):
    skip = serializers.IntegerField(required=False, default=0, min_value=0, max_value=10**9)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10**9)


def skip_limit(request, *, default_limit: int, max_limit: int) -> tuple[int, int]:
    """Validated (skip, limit); a limit above the maximum is capped, junk is a 422."""
    params = SkipLimitParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    limit = params.validated_data.get("limit") or default_limit
    return params.validated_data["skip"], min(limit, max_limit)


class SkipLimitPagination(BasePagination):
    """Views may set `default_limit` / `max_limit` to the contract's values for that list."""

    default_limit = 20
    max_limit = 100

    def paginate_queryset(self, queryset, request, view=None):
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise ImproperlyConfigured(
                f"{view.__class__.__name__} paginates an unordered queryset; order it so that "
                "pages do not overlap."
            )
        skip, limit = skip_limit(
            request,
            default_limit=getattr(view, "default_limit", self.default_limit),
            max_limit=getattr(view, "max_limit", self.max_limit),
        )
        return list(queryset[skip : skip + limit])

    def get_paginated_response(self, data):
        return Response(data)

    def get_paginated_response_schema(self, schema):
        return schema

    def get_schema_operation_parameters(self, view):
        default = getattr(view, "default_limit", self.default_limit)
        maximum = getattr(view, "max_limit", self.max_limit)
        return [
            {
                "name": "skip",
                "in": "query",
                "required": False,
                "description": "Items to skip (default 0).",
                "schema": {"type": "integer", "minimum": 0},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Items to return (default {default}, at most {maximum}).",
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
