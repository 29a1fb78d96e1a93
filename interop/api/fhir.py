"""FHIR R4 export and import of one patient: GET/POST /api/v1/patients/{id}/fhir."""

from __future__ import annotations

from datetime import datetime, time

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from interop.fhir.export import bundle_chunks, export_context, iter_resources
from interop.fhir.importer import BundleError, import_bundle
from interop.fhir.maps import resource_types
from medikeep.api.exceptions import FieldValidationError, PayloadTooLarge
from medikeep.api.parsers import SafeJSONParser
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from patients.access import Level, require_patient_access
from patients.models import Patient

TAGS = ["fhir"]
FHIR_JSON = "application/fhir+json"
TRUE = ("1", "true", "yes", "on")


class FhirJSONParser(SafeJSONParser):
    media_type = FHIR_JSON


class ImportItemSerializer(FastSerializer):
    resourceType = serializers.CharField(allow_null=True)  # FHIR spells it so
    fullUrl = serializers.CharField(allow_null=True)
    kind = serializers.CharField(allow_null=True)
    record_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())


class ImportCountsSerializer(FastSerializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()


class ImportResultSerializer(FastSerializer):
    dry_run = serializers.BooleanField()
    created = ImportItemSerializer(many=True)
    updated = ImportItemSerializer(many=True)
    skipped = ImportItemSerializer(many=True)
    counts = ImportCountsSerializer()


def _flag(request, *names: str) -> bool:
    return any(str(request.query_params.get(n, "")).lower() in TRUE for n in names)


def _since(value: str | None) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            if day is None:
                raise ValueError
            moment = datetime.combine(day, time.min)
    except ValueError as exc:
        raise FieldValidationError(
            "_since", "Give a date (2024-05-01) or a date and time (2024-05-01T10:00:00Z)."
        ) from exc
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _types(value: str | None) -> set[str] | None:
    if value in (None, ""):
        return None
    wanted = {part.strip() for part in value.split(",") if part.strip()}
    unknown = sorted(wanted - resource_types())
    if unknown:
        known = ", ".join(sorted(resource_types()))
        raise FieldValidationError(
            "_type", f"Unknown resource type {', '.join(unknown)} (known: {known})."
        )
    return wanted


class PatientFhirView(ApiView):
    parser_classes = [SafeJSONParser, FhirJSONParser]

    def perform_content_negotiation(self, request, force=False):
        # Clients ask for application/fhir+json; the answers are JSON either way.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "_type",
                OpenApiTypes.STR,
                description="Comma-separated FHIR resource types to include (default: all).",
            ),
            OpenApiParameter(
                "_since",
                OpenApiTypes.STR,
                description="Only records changed at or after this date or date-time.",
            ),
            OpenApiParameter(
                "include_file_data",
                OpenApiTypes.BOOL,
                description="Put the files' bytes into the DocumentReferences (base64).",
            ),
        ],
        responses={
            (200, FHIR_JSON): OpenApiResponse(
                OpenApiTypes.OBJECT, description="A FHIR R4 Bundle of type collection."
            ),
            422: OpenApiResponse(description="Unknown _type or unreadable _since."),
        },
        tags=TAGS,
        summary="Export the patient's records as a FHIR R4 Bundle",
    )
    def get(self, request, patient_id: int):
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        since = _since(request.query_params.get("_since"))
        types = _types(request.query_params.get("_type"))
        patient = Patient.objects.get(pk=patient_id)
        ctx = export_context(request, include_file_data=_flag(request, "include_file_data"))
        resources = iter_resources(request.user, patient, ctx=ctx, since=since, types=types)
        response = StreamingHttpResponse(bundle_chunks(resources), content_type=FHIR_JSON)
        response["Content-Disposition"] = f'attachment; filename="patient-{patient_id}-fhir.json"'
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "dry_run",
                OpenApiTypes.BOOL,
                description="Answer what would be created, updated and skipped; change nothing.",
            )
        ],
        request={FHIR_JSON: OpenApiTypes.OBJECT, "application/json": OpenApiTypes.OBJECT},
        responses={
            200: ImportResultSerializer,
            400: OpenApiResponse(description="Not JSON."),
            413: OpenApiResponse(description="The body is too large."),
            422: OpenApiResponse(description="Not a Bundle of type collection or transaction."),
        },
        tags=TAGS,
        summary="Import a FHIR R4 Bundle into the patient (with a dry-run mode)",
    )
    def post(self, request, patient_id: int):
        patient_id = require_patient_access(request.user, patient_id, Level.EDIT)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit and length > limit:
            raise PayloadTooLarge(f"The bundle is larger than {limit // (1024 * 1024)} MB.")
        try:
            bundle = request.data
        except ParseError:
            raise
        if not request.content_type or not bundle:
            raise ParseError("Send the Bundle as JSON (application/fhir+json).")
        patient = Patient.objects.get(pk=patient_id)
        try:
            answer = import_bundle(
                bundle,
                user=request.user,
                patient=patient,
                dry_run=_flag(request, "dry_run", "_dry_run"),
                ip_address=client_ip(request),
            )
        except BundleError as exc:
            raise FieldValidationError("resourceType", str(exc)) from exc
        return Response(answer)
