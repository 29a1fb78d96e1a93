"""/custom-reports: the report builder's calls (web-client-api.md §14) and the spec's
generate / list / download (spec "Custom Reports"). The work is in records/reports/.

The patient is `patient_id` when the request names one (403 for a patient the caller cannot
see), else the caller's active patient; viewing is enough to report. Reports and templates
belong to the user who made them: another user's id answers 404.
"""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from medikeep.api.exceptions import ConflictError
from medikeep.api.pagination import skip_limit
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from patients.access import Level, require_patient_access
from patients.selectors import active_patient_id
from records.models.reports import GeneratedReport, ReportStatus, ReportTemplate
from records.reports import services, templates
from records.reports.selection import (
    AppGenerateSerializer,
    ReportSettingsSerializer,
    SelectedRecordsSerializer,
    TrendChartsSerializer,
    charts_for_storage,
    check_selected_records,
    generate_serializer,
)
from records.reports.summary import data_summary
from records.reports.trends import available_lab_tests, available_vital_types, chart_counts

TAGS = ["custom-reports"]
LIST_LIMIT, LIST_MAX = 50, 100
PATIENT_PARAM = OpenApiParameter(
    "patient_id",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    required=False,
    description="The patient; the caller's active patient when absent.",
)


def report_patient(request, named=None) -> int:
    named = request.query_params.get("patient_id") or named
    if named not in (None, ""):
        return require_patient_access(request.user, named, Level.VIEW)
    return active_patient_id(request.user)


def _checked(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer


# --- builder data ----------------------------------------------------------------------------


class RecordSummarySerializer(FastSerializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    date = serializers.DateField(allow_null=True)
    practitioner = serializers.CharField(allow_null=True)
    key_info = serializers.CharField()
    status = serializers.CharField(allow_null=True)


class CategorySummarySerializer(FastSerializer):
    count = serializers.IntegerField()
    records = RecordSummarySerializer(many=True, help_text="The newest 100 at most.")
    has_more = serializers.BooleanField()


class DataSummarySerializer(FastSerializer):
    categories = serializers.DictField(child=CategorySummarySerializer())
    total_records = serializers.IntegerField()


class DataSummaryView(ApiView):
    @extend_schema(parameters=[PATIENT_PARAM], responses=DataSummarySerializer, tags=TAGS)
    def get(self, request):
        """Per report category: how many records the patient has and the newest 100."""
        return Response(data_summary(report_patient(request)))


class VitalTypeSerializer(FastSerializer):
    vital_type = serializers.CharField()
    display_name = serializers.CharField()
    unit = serializers.CharField()
    count = serializers.IntegerField()


class LabTestNameSerializer(FastSerializer):
    test_name = serializers.CharField()
    unit = serializers.CharField()
    count = serializers.IntegerField()


class AvailableTrendDataSerializer(FastSerializer):
    vital_types = VitalTypeSerializer(many=True)
    lab_test_names = LabTestNameSerializer(many=True)


class AvailableTrendDataView(ApiView):
    @extend_schema(parameters=[PATIENT_PARAM], responses=AvailableTrendDataSerializer, tags=TAGS)
    def get(self, request):
        """The vital types and lab tests (name and unit) the patient has values of."""
        patient_id = report_patient(request)
        return Response(
            {
                "vital_types": available_vital_types(patient_id),
                "lab_test_names": available_lab_tests(patient_id),
            }
        )


class ChartCountsSerializer(FastSerializer):
    vital_counts = serializers.DictField(child=serializers.IntegerField())
    lab_test_counts = serializers.DictField(
        child=serializers.IntegerField(), help_text='Keyed "<test_name>::<unit or empty>".'
    )


class TrendChartCountsView(ApiView):
    @extend_schema(
        parameters=[PATIENT_PARAM],
        request=TrendChartsSerializer,
        responses=ChartCountsSerializer,
        tags=TAGS,
    )
    def post(self, request):
        """How many points each chart would draw in its dates (at most 10 charts)."""
        charts = _checked(TrendChartsSerializer, request.data).validated_data
        patient_id = report_patient(request)
        return Response(chart_counts(patient_id, charts["vital_charts"], charts["lab_test_charts"]))


# --- generate, list, download ------------------------------------------------------------


class ReportSerializer(FastSerializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    report_type = serializers.CharField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    patient_id = serializers.IntegerField()
    record_count = serializers.IntegerField()
    file_size = serializers.IntegerField(allow_null=True)
    attempts = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class QueuedReportSerializer(ReportSerializer):
    report_id = serializers.IntegerField()
    message = serializers.CharField()


def report_row(report: GeneratedReport) -> dict:
    return ReportSerializer(report).data


def pdf_response(report: GeneratedReport) -> FileResponse:
    handle = storages["reports"].open(report.storage_key, "rb")
    filename = f"{slugify(report.title) or 'report'}.pdf"
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type="application/pdf"
    )
    response["X-Report-Id"] = str(report.pk)
    return response


def may_queue(request, serializer) -> bool:
    """Whether a large report may be answered with 202. The web app saves whatever a 2xx
    generate answers as the PDF, so its body gets the PDF whatever the size (at most 5,000
    chosen records) unless the request asks for the queued answer (`Prefer: respond-async`,
    RFC 7240); the spec's body may always be queued (it lists and downloads reports)."""
    asked = "respond-async" in request.headers.get("Prefer", "").lower()
    return asked or not isinstance(serializer, AppGenerateSerializer)


class GenerateView(ApiView):
    @extend_schema(
        parameters=[PATIENT_PARAM],
        request=AppGenerateSerializer,
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The PDF (its report id in X-Report-Id)."
            ),
            202: QueuedReportSerializer,
        },
        tags=TAGS,
        description=(
            "Takes one of two bodies: a record selection {selected_records, report_title,"
            " include_*, date_range, trend_charts}, or a section request {patient_id,"
            " report_type, date_range{start,end}, include_sections} (every record of those"
            " sections in the range). Answers the PDF, or 202 with the report's id when it"
            " holds more records than the server's REPORTS_SYNC_MAX_RECORDS (a worker builds"
            " it; GET /custom-reports/ shows it): always for a section request, for a record"
            " selection only with `Prefer: respond-async`."
        ),
    )
    def post(self, request):
        """Generates a report of the patient's records and stores it."""
        serializer = generate_serializer(request.data)
        serializer.is_valid(raise_exception=True)
        plan = serializer.plan()
        plan["patient_id"] = report_patient(request, serializer.validated_data.get("patient_id"))
        report = services.report_generate(
            user=request.user, plan=plan, may_queue=may_queue(request, serializer)
        )
        if report.status == ReportStatus.DONE:
            return pdf_response(report)
        body = {
            **report_row(report),
            "report_id": report.pk,
            "message": "The report is being generated; GET /custom-reports/ shows its status.",
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ReportListView(ApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("skip", OpenApiTypes.INT, OpenApiParameter.QUERY),
            OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY),
        ],
        responses=ReportSerializer(many=True),
        tags=TAGS,
    )
    def get(self, request):
        """The caller's generated reports, newest first."""
        skip, limit = skip_limit(request, default_limit=LIST_LIMIT, max_limit=LIST_MAX)
        rows = GeneratedReport.objects.filter(user=request.user).order_by("-created_at", "-id")
        return Response([report_row(r) for r in rows[skip : skip + limit]])


def _own_report(request, report_id) -> GeneratedReport:
    return get_object_or_404(GeneratedReport, pk=report_id, user=request.user)


class SuccessSerializer(FastSerializer):
    success = serializers.BooleanField()
    message = serializers.CharField(required=False)


class ReportDetailView(ApiView):
    @extend_schema(responses=ReportSerializer, tags=TAGS)
    def get(self, request, report_id):
        """One of the caller's reports (its status while it is being generated)."""
        return Response(report_row(_own_report(request, report_id)))

    @extend_schema(responses=SuccessSerializer, tags=TAGS)
    def delete(self, request, report_id):
        """Deletes the report and its stored PDF."""
        services.report_delete(report=_own_report(request, report_id))
        return Response({"success": True, "message": "Report deleted."})


class ReportDownloadView(ApiView):
    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            409: OpenApiResponse(description="Not generated yet, or generation failed."),
        },
        tags=TAGS,
    )
    def get(self, request, report_id):
        """The report's PDF once it is generated (409 while pending or after a failure)."""
        report = _own_report(request, report_id)
        # The PDF holds the patient's records: only while the user may still see the patient
        # (a share may have ended since; the reference exported on without checking).
        require_patient_access(request.user, report.patient_id, Level.VIEW)
        if report.status == ReportStatus.FAILED:
            raise ConflictError(f"This report could not be generated: {report.error}")
        if report.status != ReportStatus.DONE or not report.storage_key:
            raise ConflictError(
                f"This report is not ready yet (status {report.status}); try again shortly."
            )
        try:
            return pdf_response(report)
        except FileNotFoundError as exc:
            raise ConflictError("This report's file is missing; generate it again.") from exc


# --- templates -----------------------------------------------------------------------------


class TemplateInSerializer(FastSerializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    is_public = serializers.BooleanField(required=False, default=False)
    shared_with_family = serializers.BooleanField(required=False, default=False)
    selected_records = SelectedRecordsSerializer(many=True, required=False, default=list)
    trend_charts = TrendChartsSerializer(required=False, allow_null=True, default=None)
    report_settings = ReportSettingsSerializer(required=False, default=dict)

    def validate_selected_records(self, value):
        return check_selected_records(value)

    def stored(self) -> dict:
        """The validated fields as the model keeps them (JSON values, dates as ISO text)."""
        data = dict(self.validated_data)
        if "description" in data:
            data["description"] = data["description"] or ""
        if "trend_charts" in data:
            data["trend_charts"] = charts_for_storage(data["trend_charts"])
        if "report_settings" in data:
            data["report_settings"] = dict(data["report_settings"])
        if "selected_records" in data:
            data["selected_records"] = [dict(item) for item in data["selected_records"]]
        return data


class TemplateSerializer(FastSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    is_public = serializers.BooleanField()
    shared_with_family = serializers.BooleanField()
    selected_records = serializers.JSONField()
    trend_charts = serializers.JSONField(allow_null=True)
    report_settings = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TemplateSavedSerializer(FastSerializer):
    success = serializers.BooleanField()
    template_id = serializers.IntegerField()
    message = serializers.CharField()


class TemplateListView(ApiView):
    @extend_schema(responses=TemplateSerializer(many=True), tags=TAGS)
    def get(self, request):
        """The caller's report templates, by name."""
        rows = ReportTemplate.objects.filter(user=request.user).order_by("name", "id")
        return Response(TemplateSerializer(rows, many=True).data)

    @extend_schema(request=TemplateInSerializer, responses=TemplateSavedSerializer, tags=TAGS)
    def post(self, request):
        """Saves a template (409 when the caller already has one of that name)."""
        data = _checked(TemplateInSerializer, request.data).stored()
        template = templates.template_create(user=request.user, data=data)
        return Response(
            {"success": True, "template_id": template.pk, "message": "Template saved."},
            status=status.HTTP_201_CREATED,
        )


def _own_template(request, template_id) -> ReportTemplate:
    return get_object_or_404(ReportTemplate, pk=template_id, user=request.user)


class TemplateDetailView(ApiView):
    @extend_schema(responses=TemplateSerializer, tags=TAGS)
    def get(self, request, template_id):
        """One of the caller's templates."""
        return Response(TemplateSerializer(_own_template(request, template_id)).data)

    @extend_schema(request=TemplateInSerializer, responses=SuccessSerializer, tags=TAGS)
    def put(self, request, template_id):
        """Changes the fields given (409 when the new name is another template's)."""
        template = _own_template(request, template_id)
        data = _checked(TemplateInSerializer, request.data, partial=True).stored()
        templates.template_update(template=template, data=data)
        return Response({"success": True, "message": "Template updated."})

    @extend_schema(responses=SuccessSerializer, tags=TAGS)
    def delete(self, request, template_id):
        """Deletes the template; its name is free again at once."""
        templates.template_delete(template=_own_template(request, template_id))
        return Response({"success": True, "message": "Template deleted."})


urlpatterns = [
    path("custom-reports", ReportListView.as_view(), name="custom-reports"),
    path("custom-reports/generate", GenerateView.as_view(), name="custom-reports-generate"),
    path("custom-reports/data-summary", DataSummaryView.as_view()),
    path("custom-reports/available-trend-data", AvailableTrendDataView.as_view()),
    path("custom-reports/trend-chart-counts", TrendChartCountsView.as_view()),
    path("custom-reports/templates", TemplateListView.as_view()),
    path("custom-reports/templates/<int:template_id>", TemplateDetailView.as_view()),
    path("custom-reports/<int:report_id>", ReportDetailView.as_view()),
    path("custom-reports/<int:report_id>/download", ReportDownloadView.as_view()),
]
