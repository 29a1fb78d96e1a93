"""System information, facility timezone, browser-log intake and recent activity (no admin
rights needed)."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from adminops import selectors, services
from adminops.api import serializers as s
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from patients.access import Level, require_patient_access


class PublicView(ApiView):
    # Open to anyone, with no authentication at all: a stale token in the browser cannot turn
    # a public read into a 401, and the request costs no user lookup.
    permission_classes = [AllowAny]
    authentication_classes: list = []


# --- /system ---------------------------------------------------------------------------------


class SystemHealthView(PublicView):
    """Database, broker, worker and logging status; 503 when the database is unreachable."""

    @extend_schema(
        responses={200: s.SystemHealthSerializer, 503: s.SystemHealthSerializer},
        tags=["system"],
        summary="Health of the database, broker, worker and logging",
    )
    def get(self, request):
        report = selectors.system_health()
        code = status.HTTP_200_OK if report["status"] == "healthy" else 503
        return Response(s.SystemHealthSerializer(report).data, status=code)


class SystemVersionView(PublicView):
    """Application name and version."""

    @extend_schema(responses=s.VersionSerializer, tags=["system"])
    def get(self, request):
        body = {
            "app_name": settings.APP_NAME,
            "version": settings.APP_VERSION,
            "timestamp": timezone.now(),
        }
        return Response(s.VersionSerializer(body).data)


def _rate_limit_info(request) -> dict | None:
    info = getattr(request, "rate_limit_info", None)
    if not info:
        return None
    return {
        "requests_remaining": info["remaining"],
        "requests_limit": info["limit"],
        "window_seconds": info["window"],
        "reset_time": datetime.fromtimestamp(info["reset"], UTC),
    }


class LogLevelView(PublicView):
    """Logging configuration for the frontend (60 requests/minute per address)."""

    throttle_scope = "system"

    @extend_schema(responses=s.LogLevelSerializer, tags=["system"])
    def get(self, request):
        body = {
            **selectors.log_level_info(),
            "timestamp": timezone.now(),
            "rate_limit_info": _rate_limit_info(request),
        }
        return Response(s.LogLevelSerializer(body).data)


class LogRotationConfigView(PublicView):
    """Log rotation settings and current log file sizes (60 requests/minute per address)."""

    throttle_scope = "system"

    @extend_schema(responses=s.LogRotationSerializer, tags=["system"])
    def get(self, request):
        body = {**selectors.log_rotation_info(), "timestamp": timezone.now()}
        return Response(s.LogRotationSerializer(body).data)


class ReleasesView(PublicView):
    """Release notes of this server, newest first."""

    @extend_schema(
        parameters=[s.ReleasesQuerySerializer],
        responses=s.ReleasesSerializer,
        tags=["system"],
        summary="Release notes, read from the bundled CHANGELOG.md",
    )
    def get(self, request):
        query = s.ReleasesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = {
            "releases": selectors.release_notes(limit=query.validated_data["limit"]),
            "current_version": settings.APP_VERSION,
            "timestamp": timezone.now(),
        }
        return Response(s.ReleasesSerializer(body).data)


# --- /utils ----------------------------------------------------------------------------------


class TimezoneInfoView(PublicView):
    """The facility timezone that governs reminder times, and its current offset."""

    @extend_schema(responses=s.TimezoneInfoSerializer, tags=["utils"])
    def get(self, request):
        return Response(s.TimezoneInfoSerializer(selectors.timezone_info()).data)


# --- /frontend-logs --------------------------------------------------------------------------


class FrontendLogBase(ApiView):
    # Logging touches no records, and the password-change screen must be able to report
    # its own errors.
    allowed_while_password_change_required = True

    @staticmethod
    def _validated(request, serializer_class) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @staticmethod
    def _write(request, *, event: str, level: int, fields: dict, ack: str) -> Response:
        user = request.user
        services.frontend_event_log(
            event=event,
            level=level,
            fields=fields,
            user_id=user.pk if user.is_authenticated else None,
            client_ip=client_ip(request),
        )
        body = {"status": ack, "timestamp": timezone.now()}
        return Response(s.FrontendLogAckSerializer(body).data)


class OptionalAuthLogView(FrontendLogBase):
    # Anonymous reports are welcome; a token, when valid, names the reporter.
    permission_classes = [AllowAny]

    def perform_authentication(self, request):
        # An expired session is exactly when the browser has errors to report; DRF has already
        # fallen back to the anonymous user when this fails, so keep the report, not a 401.
        with contextlib.suppress(exceptions.AuthenticationFailed):
            request.user  # noqa: B018  (reading it is what authenticates)


class FrontendLogView(OptionalAuthLogView):
    """Records a browser log event; authentication optional."""

    @extend_schema(
        request=s.FrontendLogSerializer,
        responses=s.FrontendLogAckSerializer,
        tags=["frontend-logs"],
    )
    def post(self, request):
        fields = self._validated(request, s.FrontendLogSerializer)
        level = services.LEVELS[fields["level"]]
        return self._write(request, event="log", level=level, fields=fields, ack="logged")


class FrontendErrorView(OptionalAuthLogView):
    """Records an error caught by a React error boundary; authentication optional."""

    @extend_schema(
        request=s.FrontendErrorSerializer,
        responses=s.FrontendLogAckSerializer,
        tags=["frontend-logs"],
    )
    def post(self, request):
        fields = self._validated(request, s.FrontendErrorSerializer)
        return self._write(
            request, event="error", level=logging.ERROR, fields=fields, ack="error_logged"
        )


class UserActionView(FrontendLogBase):
    """Records an action of the signed-in user for audit."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=s.UserActionSerializer, responses=s.FrontendLogAckSerializer, tags=["frontend-logs"]
    )
    def post(self, request):
        fields = self._validated(request, s.UserActionSerializer)
        return self._write(
            request, event="user_action", level=logging.INFO, fields=fields, ack="action_logged"
        )


class FrontendLogHealthView(PublicView):
    """Whether browser-log intake is up."""

    @extend_schema(responses=s.FrontendLogHealthSerializer, tags=["frontend-logs"])
    def get(self, request):
        body = {"status": "healthy", "service": "frontend_logging", "timestamp": timezone.now()}
        return Response(s.FrontendLogHealthSerializer(body).data)


# --- /health (site root) ----------------------------------------------------------------------


class RootHealthView(PublicView):
    """Liveness probe for containers: answers without touching the database."""

    # Container probes call this every few seconds: no database, and no throttle, whose cache
    # (Redis when configured) being down must not make the web process look dead.
    throttle_classes: list = []

    @extend_schema(responses=s.RootHealthSerializer, tags=["system"], summary="Liveness probe")
    def get(self, request):
        body = {
            "status": "ok",
            "app_name": settings.APP_NAME,
            "version": settings.APP_VERSION,
            "timestamp": timezone.now(),
        }
        return Response(s.RootHealthSerializer(body).data)


# --- /patients/me/recent-activity and /patients/recent-activity ------------------------------


class RecentActivityView(ApiView):
    """Recent activity-log entries (created, updated, deleted records), newest first.

    Without `patient_id`: your own actions on patients you can still see. With `patient_id`:
    that patient's activity by anyone (view access needed: 403 without, 404 if unknown).
    """

    @extend_schema(
        parameters=[s.RecentActivityQuerySerializer],
        responses=s.RecentActivityItemSerializer(many=True),
        tags=["patients"],
        summary="Recent activity on your records",
    )
    def get(self, request):
        query = s.RecentActivityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        patient_id = query.validated_data.get("patient_id")
        if patient_id is not None:
            patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        rows = selectors.recent_activity(
            user=request.user, patient_id=patient_id, limit=query.validated_data["limit"]
        )
        return Response(s.RecentActivityItemSerializer(rows, many=True).data)
