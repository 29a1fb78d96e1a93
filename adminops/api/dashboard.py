"""/admin/dashboard: the operators' overview (401 anonymous, 403 for users; health-check is
public).

Answers carry the contract's keys and the keys the web app reads (web-client-api.md §16.1),
with real figures: counts in one query, database size, disk and directories, process uptime
and memory, the last backup. The figures come from adminops/figures.py and the analytics
from adminops/activity.py; these views check rights, read the query and shape the answer.
"""

from __future__ import annotations

import time
from datetime import UTC, date, timedelta

from django.conf import settings
from django.db import connection
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from adminops import activity, figures
from medikeep.api.exceptions import FieldValidationError
from medikeep.api.permissions import IsAdmin
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView

TAGS = ["admin-dashboard"]
RECENT_DEFAULT, RECENT_MAX = 20, 100


def utc_datetime(**kwargs) -> serializers.DateTimeField:
    return serializers.DateTimeField(default_timezone=UTC, **kwargs)


class AdminView(ApiView):
    """Base of the operators' endpoints: 401 without a session, 403 without the admin role."""

    permission_classes = [IsAuthenticated, IsAdmin]


# --- serializers ----------------------------------------------------------------------------


class AdminDashboardStatsSerializer(FastSerializer):
    total_users = serializers.IntegerField()
    active_users = serializers.IntegerField()
    admin_count = serializers.IntegerField(help_text="Accounts with the admin role.")
    total_admins = serializers.IntegerField(help_text="The same as admin_count.")
    total_patients = serializers.IntegerField()
    total_practitioners = serializers.IntegerField()
    total_pharmacies = serializers.IntegerField()
    recent_registrations = serializers.IntegerField(
        help_text=f"Accounts created in the last {figures.RECENT_REGISTRATION_DAYS} days."
    )
    recent_registrations_days = serializers.IntegerField()
    pending_lab_results = serializers.IntegerField(help_text="Lab results ordered or in progress.")
    total_records = serializers.IntegerField(help_text="Patients and every record of theirs.")

    def get_fields(self):
        fields = super().get_fields()
        # Every record type's count, named by the record registry (total_medications,
        # active_medications …), so a new type appears here without a change.
        for key in figures.record_count_keys():
            fields.setdefault(key, serializers.IntegerField())
        return fields


class DashboardRecentActivityQuerySerializer(FastSerializer):
    limit = serializers.IntegerField(
        required=False, default=RECENT_DEFAULT, min_value=1, max_value=RECENT_MAX
    )
    action_filter = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text="created, updated, deleted …"
    )
    entity_filter = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text="medication, patient …"
    )


class DashboardActivitySerializer(FastSerializer):
    id = serializers.IntegerField()
    model_name = serializers.CharField(help_text='The record type, e.g. "Medication".')
    entity_type = serializers.CharField()
    entity_id = serializers.IntegerField(allow_null=True)
    action = serializers.CharField()
    description = serializers.CharField()
    timestamp = utc_datetime()
    user_id = serializers.IntegerField(allow_null=True)
    user_info = serializers.SerializerMethodField(help_text="Who acted (username).")
    patient_id = serializers.IntegerField(allow_null=True)

    def get_user_info(self, row) -> str:
        return row.user.username if row.user_id else "system"


class DashboardHealthSerializer(FastSerializer):
    database_status = serializers.ChoiceField(choices=["healthy", "error"])
    database_connection_test = serializers.BooleanField()
    database_response_ms = serializers.FloatField(allow_null=True)
    database_vendor = serializers.CharField()
    total_records = serializers.IntegerField(allow_null=True)
    last_backup = utc_datetime(allow_null=True)
    system_uptime = serializers.CharField(help_text='e.g. "5 days, 3 hours".')
    uptime_seconds = serializers.IntegerField()
    started_at = utc_datetime()
    memory_usage = serializers.CharField(help_text="low, normal, high or unknown.")
    disk_usage = serializers.CharField(help_text='e.g. "Database: 45.5 MB".')
    database_size_bytes = serializers.IntegerField(allow_null=True)
    timestamp = utc_datetime()


class DashboardServiceSerializer(FastSerializer):
    status = serializers.CharField()
    response_time_ms = serializers.FloatField(required=False)


class DashboardServicesSerializer(FastSerializer):
    api = DashboardServiceSerializer()
    authentication = DashboardServiceSerializer()
    frontend_logging = DashboardServiceSerializer()
    admin_interface = DashboardServiceSerializer()


class DashboardDatabaseSerializer(FastSerializer):
    vendor = serializers.CharField()
    connection_pool_size = serializers.CharField()
    active_connections = serializers.IntegerField(allow_null=True)
    query_performance = serializers.CharField()
    query_time_ms = serializers.FloatField(allow_null=True)


class DashboardApplicationSerializer(FastSerializer):
    memory_usage = serializers.CharField(help_text="low, normal, high or unknown.")
    cpu_usage = serializers.CharField(help_text="low, normal, high or unknown.")
    response_time = serializers.CharField()
    system_load = serializers.CharField()
    process_rss_mb = serializers.FloatField(allow_null=True)
    system_memory_used_percent = serializers.FloatField(allow_null=True)
    load_average_1m = serializers.FloatField(allow_null=True)
    cpu_count = serializers.IntegerField()
    uptime_seconds = serializers.IntegerField()


class DashboardStorageSerializer(FastSerializer):
    database_size = serializers.CharField()
    upload_directory_size = serializers.CharField(help_text="Stored entity files, in all.")
    available_space = serializers.CharField()


class DashboardSecuritySerializer(FastSerializer):
    ssl_enabled = serializers.BooleanField()
    authentication_method = serializers.CharField()
    environment = serializers.CharField()
    authentication_status = serializers.CharField()
    authorization_status = serializers.CharField()
    session_status = serializers.CharField()


class DashboardMetricsSerializer(FastSerializer):
    timestamp = utc_datetime()
    services = DashboardServicesSerializer()
    database = DashboardDatabaseSerializer()
    application = DashboardApplicationSerializer()
    storage = DashboardStorageSerializer()
    security = DashboardSecuritySerializer()


class DashboardHealthCheckSerializer(FastSerializer):
    status = serializers.CharField()
    timestamp = utc_datetime()
    service = serializers.CharField()
    version = serializers.CharField()
    uptime = serializers.CharField(help_text='Seconds since the process started, e.g. "432000s".')
    uptime_seconds = serializers.IntegerField()
    startup_time = utc_datetime()


class DashboardDirectorySerializer(FastSerializer):
    backend = serializers.CharField(required=False, help_text="local or s3 (the files storage).")
    path = serializers.CharField(required=False)
    bucket = serializers.CharField(required=False)
    location = serializers.CharField(required=False, help_text="Key prefix in the bucket.")
    exists = serializers.BooleanField()
    write_permission = serializers.BooleanField()
    size_mb = serializers.FloatField()
    size_bytes = serializers.IntegerField()
    file_count = serializers.IntegerField()
    error = serializers.CharField(required=False)


class DashboardDiskSpaceSerializer(FastSerializer):
    path = serializers.CharField()
    total_gb = serializers.FloatField()
    used_gb = serializers.FloatField()
    free_gb = serializers.FloatField()
    usage_percent = serializers.FloatField()


class DashboardAppStorageSerializer(FastSerializer):
    total_files = serializers.IntegerField()
    total_mb = serializers.FloatField()
    total_bytes = serializers.IntegerField()
    trash_files = serializers.IntegerField()
    trash_mb = serializers.FloatField()


class DashboardStorageHealthSerializer(FastSerializer):
    status = serializers.ChoiceField(choices=["healthy", "warning", "error"])
    directories = serializers.DictField(child=DashboardDirectorySerializer())
    disk_space = DashboardDiskSpaceSerializer(allow_null=True)
    app_storage = DashboardAppStorageSerializer()


class DashboardAnalyticsQuerySerializer(FastSerializer):
    days = serializers.IntegerField(
        required=False, default=7, min_value=1, max_value=activity.MAX_ANALYTICS_DAYS
    )
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    compare = serializers.BooleanField(required=False, default=False)

    def to_internal_value(self, data):
        # The web app leaves the range out rather than sending it empty; accept both.
        data = {key: value for key, value in data.items() if value not in ("", None)}
        return super().to_internal_value(data)

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if (start is None) != (end is None):
            missing = "end_date" if end is None else "start_date"
            raise FieldValidationError(missing, "Give both start_date and end_date, or neither.")
        if start is not None:
            if end < start:
                raise FieldValidationError("end_date", "end_date is before start_date.")
            if (end - start).days + 1 > activity.MAX_ANALYTICS_DAYS:
                raise FieldValidationError(
                    "end_date", f"The range may cover at most {activity.MAX_ANALYTICS_DAYS} days."
                )
        return attrs


class DashboardSeriesSerializer(FastSerializer):
    labels = serializers.ListField(child=serializers.CharField())
    dates = serializers.ListField(child=serializers.CharField(), required=False)
    data = serializers.ListField(child=serializers.IntegerField())
    total = serializers.IntegerField(required=False)


class DashboardDateRangeSerializer(FastSerializer):
    start = serializers.CharField()
    end = serializers.CharField()
    days = serializers.IntegerField(required=False)


class DashboardComparisonSerializer(FastSerializer):
    current_total = serializers.IntegerField()
    previous_total = serializers.IntegerField()
    change_percent = serializers.FloatField()
    previous_period = DashboardDateRangeSerializer()


class DashboardAnalyticsSerializer(FastSerializer):
    weekly_activity = DashboardSeriesSerializer(help_text="Activity-log entries per day.")
    model_activity = serializers.DictField(
        child=serializers.IntegerField(), help_text="Entries per entity type."
    )
    hourly_activity = DashboardSeriesSerializer(help_text="Entries per hour of the day.")
    date_range = DashboardDateRangeSerializer()
    timezone = serializers.CharField(help_text="The facility time zone days are counted in.")
    comparison = DashboardComparisonSerializer(required=False, help_text="With compare=true.")


class DashboardAccessSerializer(FastSerializer):
    message = serializers.CharField()
    user = serializers.CharField()
    role = serializers.CharField()
    timestamp = utc_datetime()


# --- views ----------------------------------------------------------------------------------


def _stats() -> dict:
    counts = figures.record_counts()
    return {**counts, "recent_registrations_days": figures.RECENT_REGISTRATION_DAYS}


class StatsView(AdminView):
    """Counts of users, patients and every record type (one query)."""

    @extend_schema(
        responses=AdminDashboardStatsSerializer, tags=TAGS, summary="Dashboard statistics"
    )
    def get(self, request):
        return Response(AdminDashboardStatsSerializer(_stats()).data)


class RecentActivityView(AdminView):
    """The newest activity-log entries of the whole installation, every kind by default."""

    @extend_schema(
        parameters=[DashboardRecentActivityQuerySerializer],
        responses=DashboardActivitySerializer(many=True),
        tags=TAGS,
        summary="Recent activity across all users",
    )
    def get(self, request):
        query = DashboardRecentActivityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = activity.recent_entries(
            limit=query.validated_data["limit"],
            action=query.validated_data.get("action_filter", ""),
            entity_type=query.validated_data.get("entity_filter", ""),
        )
        return Response(DashboardActivitySerializer(rows, many=True).data)


class SystemHealthView(AdminView):
    """Database status and size, records, last backup, uptime and memory."""

    @extend_schema(responses=DashboardHealthSerializer, tags=TAGS, summary="System health")
    def get(self, request):
        ping = figures.database_ping()
        size = figures.database_size_bytes() if ping is not None else None
        total = figures.record_counts()["total_records"] if ping is not None else None
        memory = figures.memory_figures()
        uptime = figures.uptime_seconds()
        body = {
            "database_status": "healthy" if ping is not None else "error",
            "database_connection_test": ping is not None,
            "database_response_ms": ping,
            "database_vendor": connection.vendor,
            "total_records": total,
            "last_backup": figures.last_backup_at() if ping is not None else None,
            "system_uptime": figures.humane_duration(uptime),
            "uptime_seconds": uptime,
            "started_at": figures.process_started_at(),
            "memory_usage": _memory_word(memory),
            "disk_usage": f"Database: {figures.megabytes(size)}",
            "database_size_bytes": size,
            "timestamp": timezone.now(),
        }
        return Response(DashboardHealthSerializer(body).data)


def _memory_word(memory: dict) -> str:
    return figures.level_word(memory["system_used_percent"], low_below=60, normal_below=85)


class SystemMetricsView(AdminView):
    """Services, database, process, storage and security figures."""

    @extend_schema(responses=DashboardMetricsSerializer, tags=TAGS, summary="System metrics")
    def get(self, request):
        started = time.perf_counter()
        ping = figures.database_ping()
        size = figures.database_size_bytes() if ping is not None else None
        memory, load = figures.memory_figures(), figures.load_figures()
        # The web app refreshes this every 30 s: the stored files' total comes from the
        # database (one query), not from walking the directory or probing the bucket.
        stored = figures.entity_file_totals()
        disk = figures.disk_space(settings.VAR_DIR)
        log_dir = figures.directory_figures(settings.LOG_DIR)
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        operational = "operational"
        body = {
            "timestamp": timezone.now(),
            "services": {
                # This request got here signed in with an admin token: the API, the token
                # check and the role check work.
                "api": {"status": operational, "response_time_ms": elapsed},
                "authentication": {"status": operational},
                "frontend_logging": {
                    "status": operational if log_dir["write_permission"] else "error"
                },
                "admin_interface": {"status": operational},
            },
            "database": {
                "vendor": connection.vendor,
                "connection_pool_size": _pool_description(connection),
                "active_connections": figures.database_connections(),
                "query_performance": _speed_word(ping),
                "query_time_ms": ping,
            },
            "application": {
                "memory_usage": _memory_word(memory),
                "cpu_usage": figures.level_word(
                    load["load_per_cpu"], low_below=0.5, normal_below=1.0
                ),
                "response_time": f"{elapsed} ms",
                "system_load": figures.level_word(
                    load["load_per_cpu"], low_below=0.5, normal_below=1.0
                ),
                "process_rss_mb": memory["process_rss_mb"],
                "system_memory_used_percent": memory["system_used_percent"],
                "load_average_1m": load["load_average_1m"],
                "cpu_count": load["cpu_count"],
                "uptime_seconds": figures.uptime_seconds(),
            },
            "storage": {
                "database_size": figures.megabytes(size),
                "upload_directory_size": figures.megabytes(stored["total_bytes"]),
                "available_space": f"{disk['free_gb']} GB free" if disk else "unknown",
            },
            "security": {
                "ssl_enabled": request.is_secure(),
                "authentication_method": "JWT",
                "environment": "development" if settings.DEBUG else "production",
                "authentication_status": operational,
                "authorization_status": operational,
                "session_status": operational,
            },
        }
        return Response(DashboardMetricsSerializer(body).data)


def _pool_description(connection) -> str:
    if connection.settings_dict.get("OPTIONS", {}).get("pool"):
        return "pooled"
    age = connection.settings_dict.get("CONN_MAX_AGE") or 0
    return f"persistent ({age} s)" if age else "per request"


def _speed_word(ping_ms: float | None) -> str:
    if ping_ms is None:
        return "unavailable"
    return "fast" if ping_ms < 50 else "slow"


class HealthCheckView(ApiView):
    """Liveness for monitors: public, no database, no authentication."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        responses=DashboardHealthCheckSerializer, tags=TAGS, summary="Quick health check"
    )
    def get(self, request):
        uptime = figures.uptime_seconds()
        body = {
            "status": "healthy",
            "timestamp": timezone.now(),
            "service": "medical_records_api",
            "version": settings.APP_VERSION,
            "uptime": f"{uptime}s",
            "uptime_seconds": uptime,
            "startup_time": figures.process_started_at(),
        }
        return Response(DashboardHealthCheckSerializer(body).data)


class StorageHealthView(AdminView):
    """Files storage (directory, or bucket on S3), backups and logs directories, disk."""

    @extend_schema(responses=DashboardStorageHealthSerializer, tags=TAGS, summary="Storage health")
    def get(self, request):
        return Response(DashboardStorageHealthSerializer(figures.storage_health()).data)


class AnalyticsView(AdminView):
    """Activity per day, per hour and per entity type over `days` (default 7, ending today)
    or start_date..end_date, optionally compared with the period before."""

    @extend_schema(
        parameters=[DashboardAnalyticsQuerySerializer],
        responses=DashboardAnalyticsSerializer,
        tags=TAGS,
        summary="Activity analytics for the dashboard charts",
    )
    def get(self, request):
        query = DashboardAnalyticsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        start, end = values.get("start_date"), values.get("end_date")
        if start is None:
            end = _today()
            start = end - timedelta(days=values["days"] - 1)
        body = activity.activity_analytics(start=start, end=end, compare=values["compare"])
        return Response(DashboardAnalyticsSerializer(body).data)


class TestAccessView(AdminView):
    """Proves the caller's token is valid and has the admin role."""

    @extend_schema(responses=DashboardAccessSerializer, tags=TAGS, summary="Verify admin access")
    def get(self, request):
        body = {
            "message": "Admin access verified",
            "user": request.user.username,
            "role": request.user.role,
            "timestamp": timezone.now(),
        }
        return Response(DashboardAccessSerializer(body).data)


def _today() -> date:
    return timezone.localdate(timezone=activity.facility_zone())


urlpatterns = [
    path("admin/dashboard/stats", StatsView.as_view(), name="admin-dashboard-stats"),
    path(
        "admin/dashboard/recent-activity",
        RecentActivityView.as_view(),
        name="admin-dashboard-recent-activity",
    ),
    path(
        "admin/dashboard/system-health",
        SystemHealthView.as_view(),
        name="admin-dashboard-system-health",
    ),
    path(
        "admin/dashboard/system-metrics",
        SystemMetricsView.as_view(),
        name="admin-dashboard-system-metrics",
    ),
    path(
        "admin/dashboard/health-check",
        HealthCheckView.as_view(),
        name="admin-dashboard-health-check",
    ),
    path(
        "admin/dashboard/storage-health",
        StorageHealthView.as_view(),
        name="admin-dashboard-storage-health",
    ),
    path(
        "admin/dashboard/analytics-data",
        AnalyticsView.as_view(),
        name="admin-dashboard-analytics-data",
    ),
    path(
        "admin/dashboard/test-access",
        TestAccessView.as_view(),
        name="admin-dashboard-test-access",
    ),
]
