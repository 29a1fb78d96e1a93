"""Device imports of vitals (web-client-api.md §5.10), mixed into the vitals viewset:
/vitals/import/devices, /vitals/patient/{id}/import/preview and /execute, and
/vitals/patient/{id}/import/{import_source}/date/{date}. The work is in
records/services/vitals_import.py."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.exceptions import BusinessRuleError, FieldValidationError, PayloadTooLarge
from medikeep.api.representation import FastSerializer
from patients.access import Level, require_patient_access
from records.services import vitals_import
from records.services.vitals_import import DEVICES, MAX_FILE_BYTES, ImportFileError

PATIENT_PATH = r"patient/(?P<patient_id>[0-9]+)"


class ImportUploadSerializer(FastSerializer):
    device_key = serializers.ChoiceField(choices=sorted(DEVICES))
    file = serializers.FileField(help_text="The device's export (CSV, at most 10 MB).")


class ImportExecuteUploadSerializer(ImportUploadSerializer):
    skip_duplicates = serializers.BooleanField(
        default=True, help_text="Leave out readings already stored at the same moment."
    )


class DeviceSerializer(FastSerializer):
    key = serializers.CharField()
    name = serializers.CharField()


class DevicesSerializer(FastSerializer):
    devices = DeviceSerializer(many=True)


class PreviewRowSerializer(FastSerializer):
    recorded_date = serializers.DateTimeField()
    blood_glucose = serializers.FloatField()
    device_used = serializers.CharField()
    is_duplicate = serializers.BooleanField()


class PreviewSerializer(FastSerializer):
    device_name = serializers.CharField()
    total_readings = serializers.IntegerField()
    preview_rows = PreviewRowSerializer(many=True, help_text="The first 50 readings.")
    duplicate_count = serializers.IntegerField()
    new_count = serializers.IntegerField()
    skipped_rows = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())
    date_range_start = serializers.DateTimeField(allow_null=True)
    date_range_end = serializers.DateTimeField(allow_null=True)


class ExecuteSerializer(FastSerializer):
    imported_count = serializers.IntegerField()
    skipped_duplicates = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())
    total_processed = serializers.IntegerField()


class DeletedDaySerializer(FastSerializer):
    message = serializers.CharField()
    deleted_count = serializers.IntegerField()


class VitalsImportMixin:
    """Importing needs EDIT on the patient (a patient you cannot see: 403/404, VIEW: 403);
    the preview too, as the first step of an import."""

    throttle_scope: str | None = None  # "standard"; the two uploads use "upload"

    def _editable_patient(self) -> int:
        return require_patient_access(self.request.user, self.kwargs["patient_id"], Level.EDIT)

    def _upload(self, serializer_class) -> tuple[dict, bytes]:
        upload = serializer_class(data=self.request.data)
        upload.is_valid(raise_exception=True)
        params = upload.validated_data
        file = params["file"]
        if file.size > MAX_FILE_BYTES:
            raise PayloadTooLarge("The file is larger than 10 MB.")
        return params, file.read()

    @extend_schema(tags=["vitals"], responses=DevicesSerializer)
    @action(detail=False, methods=["get"], url_path="import/devices", pagination_class=None)
    def import_devices(self, request):
        """The devices whose exports can be imported."""
        devices = [{"key": device.key, "name": device.name} for device in DEVICES.values()]
        return Response({"devices": devices})

    @extend_schema(
        tags=["vitals"],
        request={"multipart/form-data": ImportUploadSerializer},
        responses=PreviewSerializer,
    )
    @action(
        detail=False,
        methods=["post"],
        url_path=rf"{PATIENT_PATH}/import/preview",
        throttle_scope="upload",
    )
    def import_preview(self, request, patient_id):
        """What importing the file would store (readings, duplicates, skipped rows); nothing
        is saved."""
        patient = self._editable_patient()
        params, data = self._upload(ImportUploadSerializer)
        try:
            body = vitals_import.import_preview(
                patient_id=patient, device_key=params["device_key"], data=data
            )
        except ImportFileError as exc:
            raise BusinessRuleError(str(exc)) from exc
        return Response(PreviewSerializer(body).data)

    @extend_schema(
        tags=["vitals"],
        request={"multipart/form-data": ImportExecuteUploadSerializer},
        responses=ExecuteSerializer,
    )
    @action(
        detail=False,
        methods=["post"],
        url_path=rf"{PATIENT_PATH}/import/execute",
        throttle_scope="upload",
    )
    def import_execute(self, request, patient_id):
        """Stores the file's readings in one transaction, marked with the device's
        import_source; readings already stored at the same moment are skipped by default."""
        patient = self._editable_patient()
        params, data = self._upload(ImportExecuteUploadSerializer)
        try:
            body = vitals_import.import_execute(
                patient_id=patient,
                device_key=params["device_key"],
                data=data,
                skip_duplicates=params["skip_duplicates"],
            )
        except ImportFileError as exc:
            raise BusinessRuleError(str(exc)) from exc
        return Response(ExecuteSerializer(body).data)

    @extend_schema(tags=["vitals"], responses=DeletedDaySerializer)
    @action(
        detail=False,
        methods=["delete"],
        url_path=rf"{PATIENT_PATH}/import/(?P<import_source>[A-Za-z0-9_.-]+)/date/(?P<day>[^/]+)",
    )
    def delete_import_day(self, request, patient_id, import_source, day):
        """Removes the readings one import source stored on one day (YYYY-MM-DD)."""
        patient = self._editable_patient()
        try:
            parsed = dt.date.fromisoformat(day)
        except ValueError as exc:
            raise FieldValidationError("date", "Give the day as YYYY-MM-DD.") from exc
        deleted = vitals_import.delete_imported_day(
            patient_id=patient, import_source=import_source, day=parsed
        )
        return Response(
            {"message": f"{deleted} imported readings deleted", "deleted_count": deleted}
        )
