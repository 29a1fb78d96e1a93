"""/patients/me: the signed-in user's own patient record, and the dashboard counts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from patients import selectors, services
from patients.access import Level, require_patient_access
from patients.api import serializers as s

NO_RECORD = "Patient record not found"
DELETED = "Patient record and all associated medical records deleted successfully"


def _self_record(user):
    patient = selectors.self_record_of(user)
    if patient is None:
        raise NotFound(NO_RECORD)
    return patient


class PatientMeView(ApiView):
    """The self-record (is_self_record=True) of the signed-in user."""

    def _context(self):
        return {"request": self.request}

    def _answer(self, patient, **kwargs) -> Response:
        # With permission_level/is_owner like every patient answer: the web app reads this as
        # its active patient when active/current is null, and without a level it takes the
        # owner for a VIEW grantee (read-only, "shared").
        return Response(s.ManagedPatientSerializer(patient, context=self._context()).data, **kwargs)

    @extend_schema(responses=s.ManagedPatientSerializer, tags=["patients"])
    def get(self, request):
        """The user's own patient record; 404 when there is none."""
        return self._answer(_self_record(request.user))

    @extend_schema(
        request=s.PatientSerializer, responses={201: s.ManagedPatientSerializer}, tags=["patients"]
    )
    def post(self, request):
        """Creates the user's own patient record; 400 when one exists."""
        serializer = s.PatientSerializer(data=request.data, context=self._context())
        serializer.is_valid(raise_exception=True)
        patient = services.self_record_create(
            user=request.user, values=serializer.validated_data, ip_address=client_ip(request)
        )
        return self._answer(patient, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.PatientSerializer, responses=s.ManagedPatientSerializer, tags=["patients"]
    )
    def put(self, request):
        """Changes the fields sent (all optional)."""
        patient = _self_record(request.user)
        serializer = s.PatientSerializer(
            patient, data=request.data, partial=True, context=self._context()
        )
        serializer.is_valid(raise_exception=True)
        patient = services.patient_update(
            patient=patient,
            values=serializer.validated_data,
            actor=request.user,
            ip_address=client_ip(request),
        )
        return self._answer(patient)

    @extend_schema(responses=s.MessageSerializer, tags=["patients"])
    def delete(self, request):
        """Deletes the user's own record and every medical record of it."""
        patient = _self_record(request.user)
        services.patient_delete(
            patient=patient, actor=request.user, keep_last=False, ip_address=client_ip(request)
        )
        return Response({"message": DELETED})


class DashboardStatsView(ApiView):
    @extend_schema(
        parameters=[s.DashboardQuerySerializer],
        responses=s.DashboardStatsSerializer,
        tags=["patients"],
    )
    def get(self, request):
        """Record counts of one patient (default: the active patient); needs VIEW."""
        query = s.DashboardQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        requested = query.validated_data.get("patient_id")
        patient_id = (
            selectors.active_patient_id(request.user)
            if requested is None
            else require_patient_access(request.user, requested, Level.VIEW)
        )
        return Response(selectors.dashboard_stats(patient_id))
