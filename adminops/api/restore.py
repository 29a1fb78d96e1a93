"""/admin/restore: restoring a backup, for admins only (401 anonymous, 403 others).

The web app's flow (web-client-api.md §16.5) is preview -> confirmation-token -> execute:

- POST admin/restore/upload                        multipart `file`: an archive of ours (a tar,
  or its age-encrypted form) streamed into BACKUP_DIR, read whole and checked before it is kept
  (422 with the reason when refused, 413 over RESTORE_MAX_UPLOAD_BYTES); a backup "uploaded";
- POST admin/restore/preview/{backup_id}           what a restore would replace, `compatible`;
- GET  admin/restore/confirmation-token/{backup_id} a token for this admin and backup, used
  once, valid 15 minutes (409 when the backup cannot be restored);
- POST admin/restore/execute/{backup_id}           {confirmation_token}: the restore (a safety
  backup first, all or nothing); 400 for a wrong, used or expired token or one for another
  backup, 403 for another admin's token;
- POST system/restore                              {backup_id, confirmation_token}: the same
  as execute, for the contract's system path.

The reference accepts .sql and .zip dumps of its own; those are not archives of this server
and are refused with 422. The work is in adminops/backups/restore.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from adminops.api.dashboard import AdminView
from adminops.backups import archive, restore
from adminops.backups.services import backup_dir
from adminops.models import Backup, BackupType
from files.uploads import clean_file_name
from medikeep.api.exceptions import FieldValidationError, PayloadTooLarge
from medikeep.api.representation import FastSerializer
from medikeep.middleware import client_ip

TAGS = ["admin-restore"]
MAX_ID = 2**63 - 1  # BigAutoField: a larger number would overflow the database's integer


# --- serializers ----------------------------------------------------------------------------


class RestoreUploadRequestSerializer(FastSerializer):
    file = serializers.FileField(help_text="A backup archive of this server (.tar or .tar.age).")


class RestoreUploadedSerializer(FastSerializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    backup_id = serializers.IntegerField()
    backup_type = serializers.ChoiceField(choices=BackupType.choices)
    backup_size = serializers.IntegerField()
    backup_description = serializers.CharField()
    backup_created = serializers.CharField(help_text="When the backup was made (manifest).")
    encrypted = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())


class RestorePreviewSerializer(FastSerializer):
    backup_id = serializers.IntegerField()
    backup_type = serializers.ChoiceField(choices=BackupType.choices)
    backup_created = serializers.CharField()
    backup_size = serializers.IntegerField(allow_null=True)
    backup_description = serializers.CharField()
    warnings = serializers.ListField(child=serializers.CharField())
    affected_data = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows per table the restore brings back."
    )
    compatible = serializers.BooleanField(help_text="Whether this backup can be restored here.")
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="Why not, when not (also in warnings)."
    )
    encrypted = serializers.BooleanField()
    app_version = serializers.CharField(allow_null=True)
    current_app_version = serializers.CharField()
    database_vendor = serializers.CharField(allow_null=True)
    current_database_vendor = serializers.CharField()
    files_count = serializers.IntegerField()
    files_bytes = serializers.IntegerField()


class RestoreTokenSerializer(FastSerializer):
    backup_id = serializers.IntegerField()
    confirmation_token = serializers.CharField()
    expires_at = serializers.CharField(help_text="ISO 8601, UTC: 15 minutes from now.")
    expires_in_seconds = serializers.IntegerField()
    warning = serializers.CharField()


class RestoreExecuteRequestSerializer(FastSerializer):
    confirmation_token = serializers.CharField(max_length=200)


class SystemRestoreRequestSerializer(RestoreExecuteRequestSerializer):
    backup_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class RestoreResultSerializer(FastSerializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    backup_id = serializers.IntegerField()
    backup_type = serializers.ChoiceField(choices=BackupType.choices)
    safety_backup_id = serializers.IntegerField()
    restore_completed = serializers.CharField()
    warnings = serializers.ListField(child=serializers.CharField(), allow_null=True)
    tables_restored = serializers.IntegerField()
    rows_restored = serializers.IntegerField()
    files = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="written, unchanged, repaired, skipped and deleted files.",
    )


# --- the upload stream ----------------------------------------------------------------------


class _ArchiveUpload(UploadedFile):
    """An upload written straight into BACKUP_DIR (a hidden .partial file until kept)."""

    def __init__(self, directory: Path, name, content_type, charset, content_type_extra):
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the parser or view
            dir=directory, prefix=".upload-", suffix=".partial", delete=False
        )
        super().__init__(handle, name, content_type, 0, charset, content_type_extra)

    def temporary_file_path(self) -> str:
        return self.file.name


class ArchiveUploadHandler(FileUploadHandler):
    """Streams the `file` field to disk as it arrives (memory stays flat) and stops at the
    size limit; every file it starts is listed in `paths` for the view to clean up."""

    def __init__(self, request=None):
        super().__init__(request)
        self.paths: list[str] = []
        self.too_large = False
        self.limit = restore.max_upload_bytes()

    def new_file(self, field_name, file_name, *args, **kwargs):
        if field_name != "file":
            raise SkipFile()
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received = 0
        self.file = _ArchiveUpload(
            backup_dir(), file_name, self.content_type, self.charset, self.content_type_extra
        )
        self.paths.append(self.file.temporary_file_path())

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            raise StopUpload(connection_reset=True)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.file.size = file_size
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return self.file


def _too_large() -> PayloadTooLarge:
    limit = restore.max_upload_bytes()
    return PayloadTooLarge(
        f"The archive is too large: at most {limit / 1024**3:.1f} GB are accepted "
        "(RESTORE_MAX_UPLOAD_BYTES)."
    )


# --- views ----------------------------------------------------------------------------------


def _backup(backup_id: int) -> Backup:
    found = Backup.objects.filter(pk=backup_id).first() if backup_id <= MAX_ID else None
    if found is None:
        raise Http404("Backup not found.")
    return found


class RestoreUploadView(AdminView):
    """Keeps an uploaded archive after reading all of it (manifest, every member's size and
    SHA-256, names and member types, the dumps); 422 with the reason when it is refused."""

    parser_classes = [MultiPartParser]
    throttle_scope = "upload"

    @extend_schema(
        request={"multipart/form-data": RestoreUploadRequestSerializer},
        responses=RestoreUploadedSerializer,
        tags=TAGS,
    )
    def post(self, request):
        django_request = request._request
        try:
            declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > restore.max_upload_bytes() + 64 * 1024:
            raise _too_large()
        handler = ArchiveUploadHandler(django_request)
        django_request.upload_handlers = [handler]
        try:
            upload = request.FILES.get("file")
            if handler.too_large:
                raise _too_large()
            if upload is None:
                raise FieldValidationError("file", "A backup archive is required (field 'file').")
            if upload.size == 0:
                raise FieldValidationError("file", "The file is empty.")
            try:
                backup = restore.register_upload(
                    upload.temporary_file_path(),
                    original_name=clean_file_name(upload.name),
                    user=request.user,
                    ip=client_ip(request),
                )
            except archive.ArchiveError as exc:
                raise FieldValidationError(
                    "file", f"This is not a usable backup archive of this server: {exc}"
                ) from exc
        finally:
            for leftover in handler.paths:
                Path(leftover).unlink(missing_ok=True)
        details = backup.details or {}
        return Response(
            {
                "success": True,
                "message": f"Backup file '{clean_file_name(upload.name)}' uploaded successfully",
                "backup_id": backup.pk,
                "backup_type": backup.backup_type,
                "backup_size": backup.size_bytes,
                "backup_description": backup.description,
                "backup_created": details.get("created_at") or "",
                "encrypted": backup.encrypted,
                "warnings": list(details.get("warnings") or []),
            }
        )


class RestorePreviewView(AdminView):
    """What restoring this backup would replace, and whether it can be restored here."""

    @extend_schema(request=None, responses=RestorePreviewSerializer, tags=TAGS)
    def post(self, request, backup_id: int):
        return Response(restore.preview(_backup(backup_id)))


class RestoreTokenView(AdminView):
    """A confirmation token for you and this backup: used once, valid 15 minutes."""

    @extend_schema(responses=RestoreTokenSerializer, tags=TAGS)
    def get(self, request, backup_id: int):
        answer = restore.issue_token(_backup(backup_id), request.user, ip=client_ip(request))
        return Response(answer)


class RestoreExecuteView(AdminView):
    """Restores the backup (a safety backup first; all or nothing). Long: minutes for
    gigabytes of files."""

    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {
        409: "A restore is already running, or this backup cannot be restored here."
    }

    @extend_schema(
        request=RestoreExecuteRequestSerializer, responses=RestoreResultSerializer, tags=TAGS
    )
    def post(self, request, backup_id: int):
        backup = _backup(backup_id)
        body = RestoreExecuteRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(_execute(request, backup, body.validated_data["confirmation_token"]))


class SystemRestoreView(AdminView):
    """Restores a backup: the same as /admin/restore/execute/{backup_id}, with the backup's
    id in the body: {backup_id, confirmation_token}."""

    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {
        409: "A restore is already running, or this backup cannot be restored here."
    }

    @extend_schema(
        request=SystemRestoreRequestSerializer, responses=RestoreResultSerializer, tags=TAGS
    )
    def post(self, request):
        body = SystemRestoreRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        backup = _backup(body.validated_data["backup_id"])
        return Response(_execute(request, backup, body.validated_data["confirmation_token"]))


def _execute(request, backup: Backup, token: str) -> dict:
    return restore.execute(backup, token, request.user, ip=client_ip(request))


urlpatterns = [
    path("admin/restore/upload", RestoreUploadView.as_view(), name="admin-restore-upload"),
    path(
        "admin/restore/preview/<int:backup_id>",
        RestorePreviewView.as_view(),
        name="admin-restore-preview",
    ),
    path(
        "admin/restore/confirmation-token/<int:backup_id>",
        RestoreTokenView.as_view(),
        name="admin-restore-confirmation-token",
    ),
    path(
        "admin/restore/execute/<int:backup_id>",
        RestoreExecuteView.as_view(),
        name="admin-restore-execute",
    ),
    path("system/restore", SystemRestoreView.as_view(), name="system-restore"),
]
