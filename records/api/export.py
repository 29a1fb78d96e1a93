"""Export (spec "Export", web-client-api.md §13): /export/summary, /export/formats,
/export/data, /export/bulk and the contract's /export/{record_type}.

Every call resolves the patient and checks access anew (the reference exported the stored
active patient without a check, so a revoked share could still export — inventory §10 #36):
`patient_id` when given (403 for a patient the user may not see), else the active patient,
which `active_patient_id` re-validates.
"""

from __future__ import annotations

from django.http import Http404, StreamingHttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from medikeep.api.exceptions import BusinessRuleError, FieldValidationError
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from patients.access import Level, require_patient_access
from patients.selectors import active_patient_id
from records.export.job import ExportJob, NoData
from records.export.pdf_writer import TooManyRows
from records.export.scopes import (
    ALL,
    PATIENT,
    all_scopes,
    every_record_scope,
    scope_of_record_type,
)
from records.export.service import CSV, FORMATS, JSON, bulk_download, export_download
from records.export.units import IMPERIAL, UNIT_SYSTEMS

TAGS = ["export"]
NO_ACTIVE_PATIENT = "No active patient: choose or create a patient before exporting."


def _scope_choices() -> list[str]:
    return [ALL, *all_scopes()]


class PatientQuerySerializer(FastSerializer):
    patient_id = serializers.IntegerField(
        required=False, min_value=1, help_text="Default: the active patient."
    )


class DatesMixin(FastSerializer):
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    include_patient_info = serializers.BooleanField(default=True)
    unit_system = serializers.ChoiceField(choices=UNIT_SYSTEMS, default=IMPERIAL)

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["The end date is before the start."]})
        return attrs


class ExportDataQuerySerializer(DatesMixin, PatientQuerySerializer):
    format = serializers.ChoiceField(choices=list(FORMATS), default=JSON)
    scope = serializers.ChoiceField(choices=_scope_choices(), default=ALL)
    include_files = serializers.BooleanField(default=False)


class RecordTypeQuerySerializer(DatesMixin, PatientQuerySerializer):
    format = serializers.ChoiceField(choices=list(FORMATS), default=CSV)


class BulkExportSerializer(DatesMixin, PatientQuerySerializer):
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=_scope_choices()), allow_empty=False, max_length=50
    )
    format = serializers.ChoiceField(choices=list(FORMATS), default=CSV)


class SummaryQuerySerializer(PatientQuerySerializer):
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)


class ChoiceSerializer(FastSerializer):
    value = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()


class FormatsSerializer(FastSerializer):
    formats = ChoiceSerializer(many=True)
    scopes = ChoiceSerializer(many=True)
    unit_systems = ChoiceSerializer(many=True)


class SummaryDataSerializer(FastSerializer):
    patient_id = serializers.IntegerField()
    patient_name = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    total_records = serializers.IntegerField()


class SummarySerializer(FastSerializer):
    status = serializers.CharField()
    data = SummaryDataSerializer()


def _patient_of(request, patient_id) -> int:
    if patient_id is not None:
        return require_patient_access(request.user, patient_id, Level.VIEW)
    try:
        return active_patient_id(request.user)
    except Http404 as exc:
        raise BusinessRuleError(NO_ACTIVE_PATIENT) from exc


def _job(request, values: dict, scopes, scope_value: str) -> ExportJob:
    return ExportJob(
        patient_id=_patient_of(request, values.get("patient_id")),
        scopes=scopes,
        start=values.get("start_date"),
        end=values.get("end_date"),
        unit_system=values.get("unit_system", IMPERIAL),
        include_patient_info=values.get("include_patient_info", True),
        scope_value=scope_value,
    )


def _scopes(value: str) -> list:
    return every_record_scope() if value == ALL else [all_scopes()[value]]


def _respond(make_download):
    try:
        download = make_download()
    except NoData as exc:
        raise NotFound(str(exc)) from exc
    except TooManyRows as exc:
        raise FieldValidationError("format", str(exc)) from exc
    response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


FILE_RESPONSES = {
    (200, "application/octet-stream"): OpenApiResponse(
        OpenApiTypes.BINARY,
        description="The export file: CSV (text/csv), JSON, PDF or a zip (application/zip).",
    ),
    404: OpenApiResponse(description="No records of the patient in the chosen scope and dates."),
    422: OpenApiResponse(description="Unknown format or scope, or bad dates."),
}


class DownloadView(ApiView):
    def perform_content_negotiation(self, request, force=False):
        # `format` names the export's format, not a renderer; errors are still JSON.
        return super().perform_content_negotiation(request, force=True)


class ExportSummaryView(DownloadView):
    @extend_schema(
        parameters=[SummaryQuerySerializer],
        responses=SummarySerializer,
        tags=TAGS,
        summary="Records per export scope of the patient",
    )
    def get(self, request):
        query = SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        job = _job(request, values, list(all_scopes().values()), ALL)
        counts = {scope.value: job.scope_count(scope) for scope in job.scopes}
        data = {
            "patient_id": job.patient_id,
            "patient_name": job.patient_name,
            "counts": counts,
            "total_records": sum(n for value, n in counts.items() if value != PATIENT),
        }
        return Response({"status": "success", "data": data})


class ExportFormatsView(DownloadView):
    @extend_schema(responses=FormatsSerializer, tags=TAGS, summary="Export formats and scopes")
    def get(self, request):
        formats = [
            {"value": value, "label": label, "description": text}
            for value, (label, text) in FORMATS.items()
        ]
        scopes = [{"value": ALL, "label": "All records", "description": "Every scope below."}]
        scopes += [
            {"value": s.value, "label": s.label, "description": s.description}
            for s in all_scopes().values()
        ]
        units = [
            {"value": "imperial", "label": "Imperial", "description": "lb, in, °F (as stored)"},
            {"value": "metric", "label": "Metric", "description": "kg, cm, °C"},
        ]
        return Response({"formats": formats, "scopes": scopes, "unit_systems": units})


class ExportDataView(DownloadView):
    @extend_schema(
        parameters=[ExportDataQuerySerializer],
        responses=FILE_RESPONSES,
        tags=TAGS,
        summary="Export the patient's records as JSON, CSV or PDF (zip with files)",
    )
    def get(self, request):
        query = ExportDataQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        job = _job(request, values, _scopes(values["scope"]), values["scope"])
        return _respond(
            lambda: export_download(job, values["format"], include_files=values["include_files"])
        )


class ExportBulkView(DownloadView):
    @extend_schema(
        request=BulkExportSerializer,
        responses=FILE_RESPONSES,
        tags=TAGS,
        summary="Export several scopes as a zip (one file per scope)",
    )
    def post(self, request):
        body = BulkExportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        wanted = values["scopes"]
        chosen = (
            every_record_scope()
            if ALL in wanted
            else [all_scopes()[v] for v in dict.fromkeys(wanted)]
        )
        job = _job(request, values, chosen, "bulk")
        return _respond(lambda: bulk_download(job, values["format"]))


class ExportRecordTypeView(DownloadView):
    @extend_schema(
        parameters=[
            RecordTypeQuerySerializer,
            OpenApiParameter(
                "record_type",
                str,
                OpenApiParameter.PATH,
                description="A record route (medications, lab-results, emergency-contacts …) "
                "or an export scope (family_history …).",
            ),
        ],
        responses=FILE_RESPONSES,
        tags=TAGS,
        summary="Export one record type of a patient as CSV or PDF",
    )
    def get(self, request, record_type: str):
        scope = scope_of_record_type(record_type)
        if scope is None:
            raise NotFound(f"Unknown record type '{record_type}'.")
        query = RecordTypeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        job = _job(request, values, [scope], scope.value)
        return _respond(lambda: export_download(job, values["format"]))


urlpatterns = [
    path("export/summary", ExportSummaryView.as_view(), name="export-summary"),
    path("export/formats", ExportFormatsView.as_view(), name="export-formats"),
    path("export/data", ExportDataView.as_view(), name="export-data"),
    path("export/bulk", ExportBulkView.as_view(), name="export-bulk"),
    path("export/<str:record_type>", ExportRecordTypeView.as_view(), name="export-record-type"),
]
