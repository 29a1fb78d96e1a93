"""skip/limit pagination: bare JSON arrays, as the contract's list endpoints return."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from medikeep.api.representation import FastSerializer

MAX_PARAM = 10**9


class SkipLimitParams(FastSerializer):
    skip = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_PARAM)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PARAM)


def _plain_number(text: str | None, minimum: int) -> int | None:
    """The value of a plain decimal numeral within the limits, else None."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if minimum <= number <= MAX_PARAM else None


def skip_limit(request, *, default_limit: int, max_limit: int) -> tuple[int, int]:
    """Validated (skip, limit); a limit above the maximum is capped, junk is a 422."""
    query = request.query_params
    skip_text, limit_text = query.get("skip"), query.get("limit")
    # Absent or plain numbers (nearly every request) need no serializer to read.
    skip = 0 if skip_text is None else _plain_number(skip_text, 0)
    limit = default_limit if limit_text is None else _plain_number(limit_text, 1)
    if skip is not None and limit is not None:
        return skip, min(limit, max_limit)
    params = SkipLimitParams(data=query)
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
