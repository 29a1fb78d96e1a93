"""/admin/activity-log: the audit trail for operators (401 anonymous, 403 for users).

- GET activity-log          — filtered pages {items, total, page, per_page, total_pages};
- GET activity-log/filters  — the actions, entity types and users to filter by;
- GET activity-log/export   — the same filters as CSV, streamed row by row.

Filters apply only when set (the web app sends empty strings for unset ones). Dates are ISO
dates or datetimes; a date as end_date includes that whole day, a datetime without an offset
is read in the facility time zone.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from adminops import activity
from adminops.api.dashboard import AdminView, utc_datetime
from adminops.models import ActivityLog
from medikeep.api.exceptions import FieldValidationError
from medikeep.api.representation import FastSerializer

TAGS = ["admin-activity-log"]
PER_PAGE_DEFAULT, PER_PAGE_MAX = 50, 100
EXPORT_CHUNK = 1000
# Cells starting with these are formulas to a spreadsheet; the export defuses them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- serializers ----------------------------------------------------------------------------


class ActivityLogFilterSerializer(FastSerializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
    action = serializers.CharField(required=False, allow_blank=True, max_length=50)
    entity_type = serializers.CharField(required=False, allow_blank=True, max_length=50)
    user_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    start_date = serializers.CharField(
        required=False, max_length=40, help_text="ISO date or datetime; entries from then on."
    )
    end_date = serializers.CharField(
        required=False, max_length=40, help_text="ISO date (that whole day) or datetime."
    )

    def to_internal_value(self, data):
        # Unset filters arrive as empty strings; they mean "not filtered".
        data = {key: value for key, value in data.items() if value not in ("", None)}
        return super().to_internal_value(data)

    @staticmethod
    def _moment(value: str, field: str, *, end: bool) -> datetime:
        try:
            # The date first: parse_datetime would read a bare date as its midnight.
            day = parse_date(value)
            moment = None if day else parse_datetime(value)
        except ValueError:
            moment = day = None
        if moment is None and day is None:
            raise FieldValidationError(field, "Give an ISO date (2025-10-04) or datetime.")
        if moment is None:
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time.min)
        elif end:
            moment += timedelta(microseconds=1)  # the given instant is included
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=activity.facility_zone())
        return moment

    def validate(self, attrs):
        if "start_date" in attrs:
            attrs["start_date"] = self._moment(attrs["start_date"], "start_date", end=False)
        if "end_date" in attrs:
            attrs["end_date"] = self._moment(attrs["end_date"], "end_date", end=True)
        return attrs

    def log_filter(self) -> activity.LogFilter:
        values = self.validated_data
        return activity.LogFilter(
            search=values.get("search", ""),
            action=values.get("action", ""),
            entity_type=values.get("entity_type", ""),
            user_id=values.get("user_id"),
            start=values.get("start_date"),
            end=values.get("end_date"),
        )


class ActivityLogPageQuerySerializer(ActivityLogFilterSerializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10**6)
    per_page = serializers.IntegerField(
        required=False,
        default=PER_PAGE_DEFAULT,
        min_value=1,
        max_value=10**6,
        help_text=f"Default {PER_PAGE_DEFAULT}; more than {PER_PAGE_MAX} gives {PER_PAGE_MAX}.",
    )


class ActivityLogEntrySerializer(FastSerializer):
    id = serializers.IntegerField()
    timestamp = utc_datetime()
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.SerializerMethodField()
    action = serializers.CharField()
    action_display = serializers.SerializerMethodField()
    entity_type = serializers.CharField(help_text="Model name, as /admin/models/ uses it.")
    entity_type_display = serializers.SerializerMethodField()
    entity_id = serializers.IntegerField(allow_null=True)
    description = serializers.CharField()
    patient_id = serializers.IntegerField(allow_null=True)
    patient_label = serializers.CharField()
    ip_address = serializers.CharField(allow_null=True)
    metadata = serializers.JSONField(help_text="{before, after, changed} of the change.")

    def get_username(self, row) -> str | None:
        return row.user.username if row.user_id else None

    def get_action_display(self, row) -> str:
        return activity.action_display(row.action)

    def get_entity_type_display(self, row) -> str:
        return activity.entity_type_display(row.entity_type)


class ActivityLogPageSerializer(FastSerializer):
    items = ActivityLogEntrySerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    per_page = serializers.IntegerField()
    total_pages = serializers.IntegerField()


class ActivityLogChoiceSerializer(FastSerializer):
    value = serializers.CharField()
    label = serializers.CharField()


class ActivityLogUserChoiceSerializer(FastSerializer):
    value = serializers.IntegerField()
    label = serializers.CharField()


class ActivityLogFiltersSerializer(FastSerializer):
    actions = ActivityLogChoiceSerializer(many=True)
    entity_types = ActivityLogChoiceSerializer(many=True)
    users = ActivityLogUserChoiceSerializer(many=True)


# --- views ----------------------------------------------------------------------------------


class ActivityLogView(AdminView):
    """Every activity-log entry, newest first, filtered and paged."""

    @extend_schema(
        parameters=[ActivityLogPageQuerySerializer],
        responses=ActivityLogPageSerializer,
        tags=TAGS,
        summary="Activity log",
    )
    def get(self, request):
        query = ActivityLogPageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = activity.log_page(
            query.log_filter(),
            page=query.validated_data["page"],
            per_page=min(query.validated_data["per_page"], PER_PAGE_MAX),
        )
        return Response(ActivityLogPageSerializer(body).data)


class ActivityLogFiltersView(AdminView):
    """The values the activity log can be filtered by."""

    @extend_schema(
        responses=ActivityLogFiltersSerializer, tags=TAGS, summary="Activity-log filter values"
    )
    def get(self, request):
        return Response(ActivityLogFiltersSerializer(activity.filter_values()).data)


EXPORT_COLUMNS = (
    "id",
    "timestamp",
    "user_id",
    "username",
    "action",
    "entity_type",
    "entity_id",
    "description",
    "patient_id",
    "patient",
    "ip_address",
)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _export_row(row: ActivityLog) -> list[str]:
    return [
        _cell(value)
        for value in (
            row.pk,
            row.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            row.user_id,
            row.user.username if row.user_id else "",
            row.action,
            row.entity_type,
            row.entity_id,
            row.description,
            row.patient_id,
            row.patient_label,
            row.ip_address,
        )
    ]


def export_lines(rows) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for row in rows.iterator(chunk_size=EXPORT_CHUNK):
        yield writer.writerow(_export_row(row))


class ActivityLogExportView(AdminView):
    """The filtered activity log as CSV (UTF-8), streamed: any size without holding it."""

    def perform_content_negotiation(self, request, force=False):
        # Downloads ask for text/csv or anything; errors are still answered in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[ActivityLogFilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV file.")
        },
        tags=TAGS,
        summary="Export the activity log as CSV",
    )
    def get(self, request):
        query = ActivityLogFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = activity.filtered_log(query.log_filter())
        stamp = timezone.now().astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(export_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="activity-log-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response


urlpatterns = [
    path("admin/activity-log", ActivityLogView.as_view(), name="admin-activity-log"),
    path(
        "admin/activity-log/filters",
        ActivityLogFiltersView.as_view(),
        name="admin-activity-log-filters",
    ),
    path(
        "admin/activity-log/export",
        ActivityLogExportView.as_view(),
        name="admin-activity-log-export",
    ),
]
