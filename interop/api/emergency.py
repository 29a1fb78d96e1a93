"""Emergency summaries and the links that show them to someone without an account.

Signed in (patient access through patients/access.py only):
- GET patients/{id}/emergency-summary[/pdf|/fhir]: VIEW.
- patients/{id}/emergency-links (create, list), …/{link_id} (read, DELETE = revoke),
  …/{link_id}/revoke, …/{link_id}/accesses: FULL (see LINK_LEVEL).
Public (the link's token is the only credential):
- GET emergency/{token}[/pdf|/fhir]; the printable page /emergency/{token} is in
  interop/emergency/page.py.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from interop.emergency import fhir
from interop.emergency import links as service
from interop.emergency.pdf import summary_pdf
from interop.emergency.serializers import EmergencySummarySerializer, summary_data
from interop.emergency.summary import emergency_summary
from interop.models import EmergencyLink, EmergencyLinkAccess
from interop.public import public_base
from medikeep.api.pagination import skip_limit
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from patients.access import EMERGENCY_LINK_LEVEL, Level, require_patient_access

TAGS = ["emergency"]
FHIR_JSON = "application/fhir+json"
# Making, listing and revoking links and reading their accesses: the rule is in access.py.
LINK_LEVEL = EMERGENCY_LINK_LEVEL
PUBLIC_HEADERS = service.PUBLIC_HEADERS
PUBLIC_SCOPE = service.PUBLIC_SCOPE
ACCESS_LIMIT, ACCESS_MAX = 100, 500


def pdf_response(summary, filename: str = "emergency-summary.pdf") -> HttpResponse:
    response = HttpResponse(summary_pdf(summary), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def fhir_response(summary, request) -> HttpResponse:
    response = HttpResponse(
        fhir.summary_bundle_json(summary, base_url=public_base(request)), content_type=FHIR_JSON
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


class BinaryView(ApiView):
    def perform_content_negotiation(self, request, force=False):
        # Clients ask for application/pdf or application/fhir+json; errors are still JSON.
        return super().perform_content_negotiation(request, force=True)


PDF_RESPONSE = {
    (200, "application/pdf"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The summary on one A4 page."
    )
}
FHIR_RESPONSE = {
    (200, FHIR_JSON): OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="A FHIR R4 Bundle of type document: a Composition (LOINC 60591-5, "
        "Patient summary Document) with sections for allergies, medications, problems, "
        "results (blood group), emergency contacts and insurance, and the resources they "
        "reference.",
    )
}


# --- the summary, signed in -------------------------------------------------------------


class SummaryView(ApiView):
    @extend_schema(
        responses=EmergencySummarySerializer,
        tags=TAGS,
        summary="A patient's emergency summary",
        description="Name, birth date, age and blood type; active allergies (most dangerous "
        "first), active conditions and medications, emergency contacts and current "
        "insurances (primary first). Needs VIEW.",
    )
    def get(self, request, patient_id):
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        return Response(summary_data(emergency_summary(patient_id)))


class SummaryPdfView(BinaryView):
    @extend_schema(
        responses=PDF_RESPONSE,
        tags=TAGS,
        summary="A patient's emergency summary as a one-page PDF",
        description="Needs VIEW. Long lists are cut to what fits, with a line saying how "
        "many rows were left out.",
    )
    def get(self, request, patient_id):
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        return pdf_response(emergency_summary(patient_id))


class SummaryFhirView(BinaryView):
    @extend_schema(
        responses=FHIR_RESPONSE,
        tags=TAGS,
        summary="A patient's emergency summary as a FHIR document Bundle",
        description="An IPS-style FHIR R4 document. Needs VIEW.",
    )
    def get(self, request, patient_id):
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        return fhir_response(emergency_summary(patient_id, prepare=fhir.prepare), request)


# --- links --------------------------------------------------------------------------------


class LinkCreateSerializer(FastSerializer):
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expires_in_hours = serializers.IntegerField(
        min_value=1,
        max_value=service.MAX_HOURS,
        required=False,
        help_text=f"Hours from now; {service.DEFAULT_HOURS} when neither this nor expires_at "
        "is given.",
    )
    expires_at = serializers.DateTimeField(
        required=False, help_text=f"In the future, at most {service.MAX_HOURS} hours from now."
    )

    def validate(self, data):
        now = timezone.now()
        if "expires_in_hours" in data and "expires_at" in data:
            raise serializers.ValidationError(
                {"expires_at": ["Give expires_in_hours or expires_at, not both."]}
            )
        if "expires_at" in data:
            expires_at = data["expires_at"]
            if expires_at <= now:
                raise serializers.ValidationError({"expires_at": ["This is not in the future."]})
            if expires_at > now + dt.timedelta(hours=service.MAX_HOURS):
                raise serializers.ValidationError(
                    {"expires_at": [f"A link lasts at most {service.MAX_HOURS} hours."]}
                )
        else:
            hours = data.get("expires_in_hours", service.DEFAULT_HOURS)
            data["expires_at"] = now + dt.timedelta(hours=hours)
        data["label"] = data.get("label", "").strip()
        return data


class EmergencyLinkSerializer(FastSerializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(
        source="created_by.username", allow_null=True, help_text="Who made it."
    )
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.SerializerMethodField(help_text="Opens the summary now.")
    status = serializers.SerializerMethodField(
        help_text="active, expired, revoked, or maker_lost_access: whoever made it no longer "
        "holds FULL on the patient, which ends the link too."
    )
    access_count = serializers.IntegerField(default=0)
    last_accessed_at = serializers.DateTimeField(allow_null=True, default=None)

    def _status(self, link: EmergencyLink) -> str:
        # One access check per maker, not per link (the list's makers are few).
        return service.link_status(link, self.context.setdefault("makers", {}))

    def get_active(self, link: EmergencyLink) -> bool:
        return self._status(link) == service.LinkStatus.ACTIVE

    def get_status(self, link: EmergencyLink) -> str:
        return self._status(link)


class CreatedLinkSerializer(EmergencyLinkSerializer):
    token = serializers.CharField(help_text="Shown this once; only its SHA-256 is kept.")
    url = serializers.CharField(help_text="The printable page for the holder of the link.")
    pdf_url = serializers.CharField()
    fhir_url = serializers.CharField()
    json_url = serializers.CharField()


class LinkAccessSerializer(FastSerializer):
    accessed_at = serializers.DateTimeField()
    ip_address = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField()
    format = serializers.CharField(help_text="What was read: page, json, pdf or fhir.")


def link_row(link: EmergencyLink, context: dict | None = None) -> dict:
    return EmergencyLinkSerializer(link, context=context if context is not None else {}).data


def token_urls(base: str, token: str) -> dict[str, str]:
    api = f"{base}/api/v1/emergency/{token}"
    return {
        "url": f"{base}/emergency/{token}",
        "pdf_url": f"{api}/pdf",
        "fhir_url": f"{api}/fhir",
        "json_url": api,
    }


LINK_PARAMS = [OpenApiParameter("link_id", OpenApiTypes.INT, OpenApiParameter.PATH)]


class LinkListView(ApiView):
    @extend_schema(
        responses=EmergencyLinkSerializer(many=True),
        tags=TAGS,
        summary="The patient's emergency links",
        description="Newest first, with how often and when each was last opened; never the "
        "token. Needs FULL.",
    )
    def get(self, request, patient_id):
        patient_id = require_patient_access(request.user, patient_id, LINK_LEVEL)
        rows = service.links_of(patient_id).select_related("created_by")
        context: dict = {}
        return Response([link_row(link, context) for link in rows])

    @extend_schema(
        request=LinkCreateSerializer,
        responses={201: CreatedLinkSerializer},
        tags=TAGS,
        summary="Create an emergency link",
        description="Anyone holding the link reads the emergency summary without an account "
        "until it expires (default 72 hours, at most 720) or is revoked. The answer shows the "
        "token and the link once. Needs FULL.",
    )
    def post(self, request, patient_id):
        patient_id = require_patient_access(request.user, patient_id, LINK_LEVEL)
        serializer = LinkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link, token = service.link_create(
            patient_id=patient_id,
            created_by=request.user,
            expires_at=serializer.validated_data["expires_at"],
            label=serializer.validated_data["label"],
        )
        body = {**link_row(link), "token": token, **token_urls(public_base(request), token)}
        return Response(body, status=status.HTTP_201_CREATED)


class LinkDetailView(ApiView):
    @extend_schema(
        parameters=LINK_PARAMS,
        responses=EmergencyLinkSerializer,
        tags=TAGS,
        summary="One emergency link",
        description="Needs FULL.",
    )
    def get(self, request, patient_id, link_id):
        patient_id = require_patient_access(request.user, patient_id, LINK_LEVEL)
        return Response(link_row(service.link_of(patient_id, link_id)))

    @extend_schema(
        parameters=LINK_PARAMS,
        responses={200: EmergencyLinkSerializer},
        tags=TAGS,
        summary="Revoke an emergency link",
        description="The link stops working at once; it stays listed with its accesses. "
        "Revoking it again changes nothing. Needs FULL.",
    )
    def delete(self, request, patient_id, link_id):
        return Response(link_row(_revoke(request, patient_id, link_id)))


def _revoke(request, patient_id, link_id) -> EmergencyLink:
    patient_id = require_patient_access(request.user, patient_id, LINK_LEVEL)
    link = service.link_of(patient_id, link_id)
    return service.link_revoke(link=link)


class LinkRevokeView(ApiView):
    @extend_schema(
        parameters=LINK_PARAMS,
        request=None,
        responses=EmergencyLinkSerializer,
        tags=TAGS,
        summary="Revoke an emergency link (POST form)",
        description="As DELETE on the link. Needs FULL.",
    )
    def post(self, request, patient_id, link_id):
        return Response(link_row(_revoke(request, patient_id, link_id)))


class LinkAccessesView(ApiView):
    @extend_schema(
        parameters=[
            *LINK_PARAMS,
            OpenApiParameter("skip", OpenApiTypes.INT, OpenApiParameter.QUERY),
            OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY),
        ],
        responses=LinkAccessSerializer(many=True),
        tags=TAGS,
        summary="Who opened an emergency link",
        description="Each opening, newest first: when, from which address and browser, and "
        "what was read. Needs FULL.",
    )
    def get(self, request, patient_id, link_id):
        patient_id = require_patient_access(request.user, patient_id, LINK_LEVEL)
        link = service.link_of(patient_id, link_id)
        skip, limit = skip_limit(request, default_limit=ACCESS_LIMIT, max_limit=ACCESS_MAX)
        rows = EmergencyLinkAccess.objects.filter(link=link).order_by("-accessed_at", "-id")
        return Response(LinkAccessSerializer(rows[skip : skip + limit], many=True).data)


# --- public, by token ---------------------------------------------------------------------


class PublicSummarySerializer(EmergencySummarySerializer):
    link_expires_at = serializers.DateTimeField(help_text="Until when the link works.")


class PublicEmergencyView(ApiView):
    # No authentication at all: the token is the credential, and a stale sign-in in the
    # browser must not turn the holder's read into a 401.
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = PUBLIC_SCOPE
    access_format = service.AccessFormat.JSON
    prepare = None  # emergency_summary's hook for what the renderer reads

    def finalize_response(self, request, response, *args, **kwargs):
        # Every answer, refusals and throttling included.
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in PUBLIC_HEADERS.items():
            response[name] = value
        return response

    def open(self, request, token):
        """The link's summary, with the opening written to its access log."""
        link = service.link_for_token(token)
        summary = emergency_summary(link.patient, prepare=self.prepare)
        service.access_record(link=link, request=request, format=self.access_format)
        return link, summary


TOKEN_PARAMS = [OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.PATH)]


class PublicSummaryView(PublicEmergencyView):
    @extend_schema(
        parameters=TOKEN_PARAMS,
        responses=PublicSummarySerializer,
        tags=TAGS,
        summary="An emergency summary by its link",
        description="No sign-in: the token of an emergency link. An unknown, expired or "
        "revoked token is a 404, the same for all three. Each opening is logged for the "
        "patient's owner.",
    )
    def get(self, request, token):
        link, summary = self.open(request, token)
        expires = serializers.DateTimeField().to_representation(link.expires_at)
        return Response({**summary_data(summary), "link_expires_at": expires})


class PublicSummaryPdfView(PublicEmergencyView, BinaryView):
    access_format = service.AccessFormat.PDF

    @extend_schema(
        parameters=TOKEN_PARAMS,
        responses=PDF_RESPONSE,
        tags=TAGS,
        summary="An emergency summary by its link, as PDF",
        description="No sign-in; as the JSON form.",
    )
    def get(self, request, token):
        _, summary = self.open(request, token)
        return pdf_response(summary)


class PublicSummaryFhirView(PublicEmergencyView, BinaryView):
    access_format = service.AccessFormat.FHIR
    prepare = staticmethod(fhir.prepare)

    @extend_schema(
        parameters=TOKEN_PARAMS,
        responses=FHIR_RESPONSE,
        tags=TAGS,
        summary="An emergency summary by its link, as a FHIR document Bundle",
        description="No sign-in; as the JSON form.",
    )
    def get(self, request, token):
        _, summary = self.open(request, token)
        return fhir_response(summary, request)
