"""/admin/backup: backups for admins only (401 anonymous, 403 others).

Every path answers under the contract's /admin/backup/ and under the web app's /admin/backups/
(web-client-api.md §16.5): one view, two paths. /system/backup is create-full.

- POST create-database | create-files | create-full {description} — the backup object (200);
- GET  ""                    — {backups: [...with file_exists, file_path], total};
- GET  export                — the history as CSV;
- GET  {id}/download         — the archive, streamed;
- POST {id}/verify           — {valid, backup_id, verification_details};
- DELETE {id}                — the row and its file;
- POST cleanup | cleanup-orphaned | cleanup-all — what was removed;
- GET|POST settings/retention, GET retention/stats, GET|POST settings/schedule.

The work is in adminops/backups (services, retention, schedule); views check rights and shape.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC

from django.http import FileResponse, Http404, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from adminops.api.dashboard import AdminView, utc_datetime
from adminops.backups import retention, schedule, services
from adminops.models import Backup, BackupStatus, BackupType
from medikeep.api.representation import FastSerializer
from medikeep.middleware import client_ip

TAGS = ["admin-backups"]
MAX_ID = 2**63 - 1  # BigAutoField: a larger number would overflow the database's integer
MAX_DAYS = 3650
MAX_COUNT = 1000


# --- serializers ----------------------------------------------------------------------------


class BackupCreateSerializer(FastSerializer):
    description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=1000, default=""
    )


class BackupSerializer(FastSerializer):
    id = serializers.IntegerField()
    backup_type = serializers.ChoiceField(choices=BackupType.choices)
    filename = serializers.CharField()
    size_bytes = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=BackupStatus.choices)
    created_at = utc_datetime()
    completed_at = utc_datetime(allow_null=True)
    verified_at = utc_datetime(allow_null=True)
    description = serializers.CharField()
    encrypted = serializers.BooleanField()
    sha256 = serializers.CharField(help_text="SHA-256 of the archive file as stored.")
    checksum = serializers.CharField(source="sha256", help_text="The same as sha256.")
    file_exists = serializers.BooleanField()
    file_path = serializers.CharField()
    error = serializers.CharField(help_text="Why it failed, when it did.")
    created_by = serializers.SerializerMethodField(help_text="Username; null for the schedule.")
    warnings = serializers.SerializerMethodField()

    def get_created_by(self, obj) -> str | None:
        return obj.created_by.username if obj.created_by_id else None

    def get_warnings(self, obj) -> list[str]:
        return list(obj.details.get("warnings") or [])


class BackupListSerializer(FastSerializer):
    backups = BackupSerializer(many=True)
    total = serializers.IntegerField()


class VerifySerializer(FastSerializer):
    valid = serializers.BooleanField()
    backup_id = serializers.IntegerField()
    verification_details = serializers.DictField(
        help_text="file_exists, size_matches, checksum_matches, contents_checked, errors, "
        "warnings, checks (native and portable dumps), members_checked, manifest …"
    )


class DeletedSerializer(FastSerializer):
    message = serializers.CharField()
    deleted_id = serializers.IntegerField()
    file_deleted = serializers.BooleanField()


class CleanupSerializer(FastSerializer):
    total_deleted = serializers.IntegerField()
    freed_bytes = serializers.IntegerField()
    message = serializers.CharField()
    deleted_backups = serializers.ListField(child=serializers.DictField())
    kept_count = serializers.IntegerField()


class OrphanCleanupSerializer(FastSerializer):
    orphaned_files_deleted = serializers.IntegerField()
    orphaned_records_deleted = serializers.IntegerField()
    deleted_files = serializers.ListField(child=serializers.CharField())
    deleted_record_ids = serializers.ListField(child=serializers.IntegerField())
    freed_bytes = serializers.IntegerField()
    total_deleted = serializers.IntegerField()
    message = serializers.CharField()


class CleanupAllSerializer(FastSerializer):
    backups = CleanupSerializer()
    orphaned = OrphanCleanupSerializer()
    trash = serializers.DictField(help_text="{deleted_count, freed_bytes} of the file trash.")
    total_files_cleaned = serializers.IntegerField()
    total_deleted = serializers.IntegerField()
    freed_bytes = serializers.IntegerField()
    message = serializers.CharField()


class RetentionSettingsSerializer(FastSerializer):
    backup_retention_days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, required=False
    )
    backup_min_count = serializers.IntegerField(min_value=1, max_value=MAX_COUNT, required=False)
    backup_max_count = serializers.IntegerField(min_value=1, max_value=MAX_COUNT, required=False)
    trash_retention_days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, required=False)
    allow_user_registration = serializers.BooleanField(required=False)


class RetentionUpdatedSerializer(RetentionSettingsSerializer):
    message = serializers.CharField()
    current_settings = RetentionSettingsSerializer()


class RetentionStatsSerializer(FastSerializer):
    settings = RetentionSettingsSerializer()
    total_backups = serializers.IntegerField()
    usable_backups = serializers.IntegerField()
    total_size_bytes = serializers.IntegerField()
    oldest_backup_at = serializers.DateTimeField(allow_null=True)
    newest_backup_at = serializers.DateTimeField(allow_null=True)
    would_delete_count = serializers.IntegerField()
    would_free_bytes = serializers.IntegerField()
    would_keep_count = serializers.IntegerField()
    would_delete = serializers.ListField(child=serializers.DictField())
    orphaned_files = serializers.IntegerField()
    orphaned_files_bytes = serializers.IntegerField()
    orphaned_records = serializers.IntegerField()
    expired_trash_files = serializers.IntegerField()
    expired_trash_bytes = serializers.IntegerField()
    backup_dir = serializers.CharField()
    disk_free_bytes = serializers.IntegerField()
    generated_at = serializers.DateTimeField()


class ScheduleRequestSerializer(FastSerializer):
    preset = serializers.ChoiceField(choices=schedule.PRESETS, required=False)
    time_of_day = serializers.CharField(
        required=False, allow_null=True, max_length=10, help_text='"HH:MM", 24-hour.'
    )
    day_of_week = serializers.CharField(
        required=False, allow_null=True, max_length=10, help_text="mon … sun (weekly only)."
    )


class ScheduleSerializer(FastSerializer):
    enabled = serializers.BooleanField()
    preset = serializers.ChoiceField(choices=schedule.PRESETS)
    time_of_day = serializers.CharField()
    day_of_week = serializers.CharField()
    timezone = serializers.CharField(help_text="The facility time zone the times are in.")
    backup_type = serializers.CharField()
    next_run_at = serializers.DateTimeField(allow_null=True)
    last_run_at = serializers.DateTimeField(allow_null=True)
    last_run_status = serializers.CharField(allow_null=True)
    last_run_error = serializers.CharField(allow_null=True)
    last_backup_id = serializers.IntegerField(allow_null=True)


class ScheduleUpdatedSerializer(FastSerializer):
    message = serializers.CharField()
    schedule = ScheduleSerializer()


# --- views ----------------------------------------------------------------------------------


def _backup(backup_id: int) -> Backup:
    found = Backup.objects.filter(pk=backup_id).first() if backup_id <= MAX_ID else None
    if found is None:
        raise Http404("Backup not found.")
    return found


class BackupCreateView(AdminView):
    """Writes a backup now and answers it (200); 409 while another backup runs, 500 with the
    reason when it fails (the failed row stays in the list)."""

    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "Another backup is being written."}
    backup_type = BackupType.FULL

    @extend_schema(request=BackupCreateSerializer, responses=BackupSerializer, tags=TAGS)
    def post(self, request):
        body = BackupCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        backup = services.backup_create(
            backup_type=self.backup_type,
            description=body.validated_data.get("description") or "",
            user=request.user,
            ip=client_ip(request),
        )
        return Response(BackupSerializer(backup).data)


class BackupListView(AdminView):
    """Every backup, newest first, with whether its file is there."""

    @extend_schema(responses=BackupListSerializer, tags=TAGS)
    def get(self, request):
        backups = list(Backup.objects.select_related("created_by").order_by("-created_at", "-id"))
        return Response(
            {"backups": BackupSerializer(backups, many=True).data, "total": len(backups)}
        )


class _Echo:
    def write(self, value: str) -> str:
        return value


class BackupExportView(AdminView):
    """The backup history as CSV."""

    def perform_content_negotiation(self, request, force=False):
        # Downloads ask for text/csv or anything; errors are still answered in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV.")},
        tags=TAGS,
    )
    def get(self, request):
        def lines() -> Iterator[str]:
            writer = csv.writer(_Echo())
            yield writer.writerow(services.EXPORT_COLUMNS)
            for row in services.export_rows():
                yield writer.writerow(row)

        stamp = timezone.now().astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="backups-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response


class BackupDownloadView(AdminView):
    """The archive file, streamed; 404 when the backup or its file is missing."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The archive (tar, or tar inside age)."
            )
        },
        tags=TAGS,
    )
    def get(self, request, backup_id: int):
        backup = _backup(backup_id)
        try:
            handle = open(backup.file_path, "rb")  # noqa: SIM115 - FileResponse closes it
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise Http404("The backup file is missing.") from exc
        services.audit(
            user=request.user,
            action="backup_downloaded",
            backup=backup,
            description=f"Backup downloaded: {backup.filename}",
            ip=client_ip(request),
        )
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=backup.filename,
            content_type="application/octet-stream",
        )
        response.block_size = 1024 * 1024  # archives are large; 4 KiB reads cost CPU
        response["Cache-Control"] = "no-store"
        return response


class BackupVerifyView(AdminView):
    """Re-reads the file: size and SHA-256 against the row, then every member against the
    manifest and the dumps opened by their own tools."""

    @extend_schema(request=None, responses=VerifySerializer, tags=TAGS)
    def post(self, request, backup_id: int):
        result = services.backup_verify(
            backup=_backup(backup_id), user=request.user, ip=client_ip(request)
        )
        return Response(result)


class BackupDetailView(AdminView):
    """Deletes the backup's row and its file (409 while it is being written)."""

    @extend_schema(responses=DeletedSerializer, tags=TAGS)
    def delete(self, request, backup_id: int):
        result = services.backup_delete(
            backup=_backup(backup_id), user=request.user, ip=client_ip(request)
        )
        return Response(result)


class BackupCleanupView(AdminView):
    """Applies the retention settings now."""

    @extend_schema(request=None, responses=CleanupSerializer, tags=TAGS)
    def post(self, request):
        return Response(retention.backup_cleanup(user=request.user, ip=client_ip(request)))


class BackupCleanupOrphanedView(AdminView):
    """Files in BACKUP_DIR without a row (older than an hour), rows without a file."""

    @extend_schema(request=None, responses=OrphanCleanupSerializer, tags=TAGS)
    def post(self, request):
        return Response(retention.backup_cleanup_orphaned(user=request.user, ip=client_ip(request)))


class BackupCleanupAllView(AdminView):
    """Retention, orphans, and the file trash past its retention."""

    @extend_schema(request=None, responses=CleanupAllSerializer, tags=TAGS)
    def post(self, request):
        return Response(retention.cleanup_all(user=request.user, ip=client_ip(request)))


class RetentionSettingsView(AdminView):
    """Backup retention, trash retention and the registration switch (Admin -> Settings)."""

    @extend_schema(
        summary="Backup and trash retention settings",
        responses=RetentionSettingsSerializer,
        tags=TAGS,
    )
    def get(self, request):
        return Response(retention.retention_settings())

    @extend_schema(
        summary="Change the retention settings",
        request=RetentionSettingsSerializer,
        responses=RetentionUpdatedSerializer,
        tags=TAGS,
    )
    def post(self, request):
        body = RetentionSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = retention.retention_settings_update(
            changes=dict(body.validated_data), user=request.user, ip=client_ip(request)
        )
        return Response({"message": "Settings saved.", "current_settings": values, **values})


class RetentionStatsView(AdminView):
    """What the backups take, and what a cleanup would remove now."""

    @extend_schema(responses=RetentionStatsSerializer, tags=TAGS)
    def get(self, request):
        return Response(retention.retention_stats())


class ScheduleSettingsView(AdminView):
    """The automatic backup schedule (full backups, retention applied after each)."""

    @extend_schema(summary="The automatic backup schedule", responses=ScheduleSerializer, tags=TAGS)
    def get(self, request):
        return Response(schedule.schedule_view())

    @extend_schema(
        summary="Change the automatic backup schedule",
        request=ScheduleRequestSerializer,
        responses=ScheduleUpdatedSerializer,
        tags=TAGS,
    )
    def post(self, request):
        body = ScheduleRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        view = schedule.schedule_update(
            changes=dict(body.validated_data), user=request.user, ip=client_ip(request)
        )
        message = (
            "Automatic backups are off."
            if not view["enabled"]
            else f"Automatic backups: {view['preset'].replace('_', ' ')}."
        )
        return Response({"message": message, "schedule": view})


def _routes(prefix: str, name: str) -> list:
    return [
        path(prefix, BackupListView.as_view(), name=f"{name}-list"),
        path(
            f"{prefix}/create-database",
            BackupCreateView.as_view(backup_type=BackupType.DATABASE),
            name=f"{name}-create-database",
        ),
        path(
            f"{prefix}/create-files",
            BackupCreateView.as_view(backup_type=BackupType.FILES),
            name=f"{name}-create-files",
        ),
        path(
            f"{prefix}/create-full",
            BackupCreateView.as_view(backup_type=BackupType.FULL),
            name=f"{name}-create-full",
        ),
        path(f"{prefix}/export", BackupExportView.as_view(), name=f"{name}-export"),
        path(f"{prefix}/cleanup", BackupCleanupView.as_view(), name=f"{name}-cleanup"),
        path(
            f"{prefix}/cleanup-orphaned",
            BackupCleanupOrphanedView.as_view(),
            name=f"{name}-cleanup-orphaned",
        ),
        path(f"{prefix}/cleanup-all", BackupCleanupAllView.as_view(), name=f"{name}-cleanup-all"),
        path(
            f"{prefix}/settings/retention",
            RetentionSettingsView.as_view(),
            name=f"{name}-settings-retention",
        ),
        path(
            f"{prefix}/retention/stats",
            RetentionStatsView.as_view(),
            name=f"{name}-retention-stats",
        ),
        path(
            f"{prefix}/settings/schedule",
            ScheduleSettingsView.as_view(),
            name=f"{name}-settings-schedule",
        ),
        path(f"{prefix}/<int:backup_id>", BackupDetailView.as_view(), name=f"{name}-detail"),
        path(
            f"{prefix}/<int:backup_id>/download",
            BackupDownloadView.as_view(),
            name=f"{name}-download",
        ),
        path(
            f"{prefix}/<int:backup_id>/verify",
            BackupVerifyView.as_view(),
            name=f"{name}-verify",
        ),
    ]


urlpatterns = [
    # The contract's prefix, then the web app's (§16.5): the same views.
    *_routes("admin/backup", "admin-backup"),
    *_routes("admin/backups", "admin-backups"),
    path(
        "system/backup",
        BackupCreateView.as_view(backup_type=BackupType.FULL),
        name="system-backup",
    ),
]
