"""/patient-management: every patient the user manages or was shared, and switching."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from patients import selectors, services
from patients.access import Level, is_owner, require_patient_access
from patients.api import serializers as s
from patients.api.views import null_response
from patients.models import Patient

TAGS = ["patient-management"]
DEFAULT_LIMIT = 100
MAX_LIMIT = 100
OWNER_ONLY = "Only the patient owner can delete this record."
DELETED = "Patient deleted successfully"
PATIENT_OR_NULL = OpenApiResponse(s.ManagedPatientSerializer, description="The patient, or null.")


class ManagementView(ApiView):
    """Patient-management endpoints answer with the caller's level on each patient."""

    def managed(self, patient, **kwargs):
        return s.ManagedPatientSerializer(patient, context={"request": self.request}, **kwargs)

    def managed_or_null(self, patient_id: int | None):
        if patient_id is None:
            return null_response()
        return Response(self.managed(selectors.visible_patient(self.request.user, patient_id)).data)


def _window(params: dict) -> tuple[int, int]:
    """(skip, limit) from skip/limit or, when given, the 1-based page/page_size."""
    if "page" in params or "page_size" in params:
        size = min(params.get("page_size") or DEFAULT_LIMIT, MAX_LIMIT)
        return (params.get("page", 1) - 1) * size, size
    return params["skip"], min(params.get("limit") or DEFAULT_LIMIT, MAX_LIMIT)


class PatientManagementView(ManagementView):
    @extend_schema(
        parameters=[s.PatientListQuerySerializer],
        responses=s.PatientListSerializer,
        tags=TAGS,
        operation_id="patient_management_list",
    )
    def get(self, request):
        """The patients the user owns and (unless include_shared=false) those shared with them."""
        query = s.PatientListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        patients = selectors.patient_list(
            request.user,
            include_shared=params["include_shared"],
            search=params.get("search", ""),
            level=Level[params["permission"].upper()],
        )
        counts = selectors.patient_counts(patients, request.user)
        skip, limit = _window(params)
        return Response(
            {
                "patients": self.managed(patients[skip : skip + limit], many=True).data,
                "total": counts["total"],
                "total_count": counts["total"],
                "owned_count": counts["owned"],
                "shared_count": counts["shared"],
            }
        )

    @extend_schema(
        request=s.PatientSerializer, responses={201: s.ManagedPatientSerializer}, tags=TAGS
    )
    def post(self, request):
        """A new patient owned by the user (a family member, a dependant…)."""
        serializer = s.PatientSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        patient = services.patient_create(
            owner=request.user,
            values=serializer.validated_data,
            actor=request.user,
            ip_address=client_ip(request),
        )
        return Response(self.managed(patient).data, status=status.HTTP_201_CREATED)


class PatientManagementDetailView(ManagementView):
    @extend_schema(responses=s.ManagedPatientSerializer, tags=TAGS)
    def get(self, request, patient_id):
        """One patient with the caller's permission level; needs VIEW."""
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        return Response(self.managed(selectors.visible_patient(request.user, patient_id)).data)

    @extend_schema(request=s.PatientSerializer, responses=s.ManagedPatientSerializer, tags=TAGS)
    def put(self, request, patient_id):
        """Changes the fields sent; needs EDIT."""
        patient_id = require_patient_access(request.user, patient_id, Level.EDIT)
        patient = Patient.objects.get(pk=patient_id)
        serializer = s.PatientSerializer(
            patient, data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        patient = services.patient_update(
            patient=patient,
            values=serializer.validated_data,
            actor=request.user,
            ip_address=client_ip(request),
        )
        return Response(self.managed(patient).data)

    @extend_schema(responses=s.MessageSerializer, tags=TAGS)
    def delete(self, request, patient_id):
        """Deletes the patient and all its records; owner only, never the last one."""
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        patient = Patient.objects.get(pk=patient_id)
        if not is_owner(request.user, patient):
            raise PermissionDenied(OWNER_ONLY)
        services.patient_delete(patient=patient, actor=request.user, ip_address=client_ip(request))
        return Response({"message": DELETED})


class OwnedPatientsView(ManagementView):
    @extend_schema(responses=s.ManagedPatientSerializer(many=True), tags=TAGS)
    def get(self, request):
        """The patients the user owns."""
        patients = selectors.patient_list(request.user, include_shared=False)
        return Response(self.managed(patients, many=True).data)


class SelfRecordView(ManagementView):
    @extend_schema(responses=PATIENT_OR_NULL, tags=TAGS)
    def get(self, request):
        """The user's own record (is_self_record), or null."""
        patient = selectors.self_record_of(request.user)
        return self.managed_or_null(patient.pk if patient else None)


class SwitchPatientView(ManagementView):
    @extend_schema(
        request=s.SwitchPatientSerializer, responses=s.ManagedPatientSerializer, tags=TAGS
    )
    def post(self, request):
        """Makes another patient the active one; needs VIEW on it."""
        serializer = s.SwitchPatientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient_id = services.active_patient_switch(
            user=request.user, patient_id=serializer.validated_data["patient_id"]
        )
        return self.managed_or_null(patient_id)


class ActivePatientView(ManagementView):
    @extend_schema(responses=PATIENT_OR_NULL, tags=TAGS)
    def get(self, request):
        """The active patient, or null (a pointer to a patient no longer visible is cleared)."""
        return self.managed_or_null(services.active_patient_current(user=request.user))


class PatientStatsView(ManagementView):
    @extend_schema(responses=s.PatientStatsSerializer, tags=TAGS)
    def get(self, request):
        """How many patients the user owns and sees through shares."""
        return Response(selectors.patient_stats(request.user))
