"""The dose log's API: /medications/{id}/doses (list, record) and the reminder messages'
answer link /doses/answer (records/services/doses.py holds the rules).

/medications/{id}/doses is an action of the medication viewset, so it is scoped as every
record is: a medication the user cannot see is a 404, VIEW reads, EDIT records (VIEW → 403).
/doses/answer needs no sign-in: the signed token in the link is the credential, and the
service re-checks that its user may still change the patient's records. A browser gets a
small HTML page (GET shows what the link records and a button; POST records), other clients
the same answers as JSON.
"""

from __future__ import annotations

import datetime as dt

from django.template.loader import render_to_string
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from medikeep.api.exceptions import FieldValidationError
from medikeep.api.renderers import FastJSONRenderer
from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from records.models import MedicationDose, MedicationDoseStatus
from records.services import doses as service
from records.services.dose_schedule import facility_zone


class MedicationDoseSerializer(FastModelSerializer):
    medication_id = serializers.IntegerField(read_only=True)
    recorded_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    recorded_by_name = serializers.SerializerMethodField()

    class Meta:
        model = MedicationDose
        fields = [
            "id",
            "medication_id",
            "slot",
            "status",
            "note",
            "source",
            "recorded_by_id",
            "recorded_by_name",
            "recorded_at",
        ]
        read_only_fields = fields

    def get_recorded_by_name(self, dose) -> str | None:
        user = dose.recorded_by
        return (user.full_name or user.username) if user is not None else None


class DoseAnswerSerializer(FastSerializer):
    slot = serializers.DateTimeField(
        help_text="The scheduled dose time answered: one of the medication's slots (reminder "
        "times in the facility time zone), from 7 days back to 1 day ahead."
    )
    status = serializers.ChoiceField(choices=MedicationDoseStatus.choices)
    note = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text='Left out keeps the stored note; "" clears it.',
    )


class AdherenceSerializer(FastSerializer):
    days = serializers.IntegerField(help_text="The window: this many days up to now.")
    due = serializers.IntegerField(help_text="Scheduled doses in the window.")
    taken = serializers.IntegerField(help_text="Doses in the window answered as taken.")
    skipped = serializers.IntegerField(help_text="Doses in the window answered as skipped.")


def _moment(name: str, value: str | None, *, end: bool) -> dt.datetime | None:
    """A range bound from an ISO 8601 date-time (naive: facility time) or date. An end is
    returned exclusive: a date-time plus a microsecond, a date the start of the next day (so
    `to=2025-03-07` takes that whole day)."""
    if value in (None, ""):
        return None
    if "T" in value:  # a "+01:00" sent without URL-encoding arrives as " 01:00"
        value = value.replace(" ", "+")
    try:  # a date first: parse_datetime would read "2025-03-07" as its midnight
        day = parse_date(value)
        moment = None if day else parse_datetime(value)
    except ValueError:
        moment = day = None
    if moment is not None:
        if not timezone.is_aware(moment):
            moment = timezone.make_aware(moment, facility_zone())
        return moment + dt.timedelta(microseconds=1) if end else moment
    if day is not None:
        day = day + dt.timedelta(days=1) if end else day
        return timezone.make_aware(dt.datetime.combine(day, dt.time()), facility_zone())
    raise FieldValidationError(name, "Give an ISO 8601 date (2025-03-01) or date-time.")


DOSE_RANGE_PARAMS = [
    OpenApiParameter(
        "from", OpenApiTypes.STR, description="Doses at or after this date or date-time."
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.STR,
        description="Doses up to this date-time, or to the end of this date.",
    ),
]


class MedicationDoseActions:
    """Mixed into the medication viewset: GET and POST /medications/{id}/doses."""

    @extend_schema(
        methods=["GET"],
        parameters=DOSE_RANGE_PARAMS,
        responses=MedicationDoseSerializer(many=True),
        description="The medication's dose log, newest slot first.",
    )
    @extend_schema(
        methods=["POST"],
        request=DoseAnswerSerializer,
        responses={
            201: OpenApiResponse(MedicationDoseSerializer, description="First answer."),
            200: OpenApiResponse(
                MedicationDoseSerializer, description="The slot's answer, changed or unchanged."
            ),
        },
        description="Records whether a scheduled dose was taken or skipped (EDIT access).",
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def doses(self, request, pk=None):
        medication = self.get_object()
        if request.method == "POST":
            return self._record_dose(request, medication)
        query = request.query_params
        start = _moment("from", query.get("from"), end=False)
        stop = _moment("to", query.get("to"), end=True)
        if start and stop and stop <= start:
            raise FieldValidationError("to", "The end of the range is before its start.")
        rows = MedicationDose.objects.filter(medication=medication).select_related("recorded_by")
        if start:
            rows = rows.filter(slot__gte=start)
        if stop:
            rows = rows.filter(slot__lt=stop)
        page = self.paginate_queryset(rows.order_by("-slot", "-id"))
        return Response(MedicationDoseSerializer(page, many=True).data)

    def _record_dose(self, request, medication):
        body = DoseAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        dose, outcome = service.dose_record(
            medication=medication,
            slot=data["slot"],
            status=data["status"],
            note=data.get("note"),
            user=request.user,
            ip_address=client_ip(request),
        )
        code = status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK
        return Response(MedicationDoseSerializer(dose).data, status=code)


# --- the answer link -----------------------------------------------------------------------


class DoseAnswerPageRenderer(BaseRenderer):
    """The answer link's page for people: the same data as the JSON, or the error's message."""

    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        context = dict(data or {})
        if context.get("status") == "error":
            context = {"error": context.get("error")}
        return render_to_string("records/dose_answer.html", context)


class DoseLinkSerializer(FastSerializer):
    medication_id = serializers.IntegerField()
    medication_name = serializers.CharField()
    dosage = serializers.CharField()
    patient_name = serializers.CharField()
    slot = serializers.DateTimeField()
    slot_local = serializers.CharField(help_text="The slot in the facility's words and zone.")
    action = serializers.ChoiceField(choices=MedicationDoseStatus.choices)
    already_recorded = serializers.BooleanField()
    dose = MedicationDoseSerializer(allow_null=True)
    message = serializers.CharField()


TOKEN_PARAM = OpenApiParameter(
    "token", OpenApiTypes.STR, required=True, description="The token of the reminder's link."
)


def _when(moment: dt.datetime, *, zone_name: bool = True) -> str:
    local = timezone.localtime(moment, facility_zone())
    text = f"{local:%a %d %b %Y, %H:%M}"
    return f"{text} ({local.tzname()})" if zone_name else text


def _answer_body(answer, medication, dose, *, created: bool) -> dict:
    name = f"{medication.medication_name} {medication.dosage}".strip()
    when = _when(answer.slot)
    if dose is None:
        message = f"Record {name} of {when} as {answer.action}?"
    elif created:
        message = f"Recorded: {name} of {when} {dose.status}."
    else:
        user = dose.recorded_by
        by = f" by {user.full_name or user.username}" if user is not None else ""
        message = (
            f"Already recorded: {name} of {when} was answered {dose.status}{by} "
            f"on {_when(dose.recorded_at, zone_name=False)}. Change it in MediKeep if needed."
        )
    body = {
        "medication_id": medication.pk,
        "medication_name": medication.medication_name,
        "dosage": medication.dosage,
        "patient_name": medication.patient.full_name,
        "slot": answer.slot,
        "slot_local": when,
        "action": answer.action,
        "already_recorded": dose is not None and not created,
        "dose": dose,
        "message": message,
    }
    return DoseLinkSerializer(body).data


@extend_schema(tags=["medications"])
class DoseAnswerView(ApiView):
    """/doses/answer?token=…: the "taken" / "skipped" link of a medication reminder."""

    authentication_classes: list = []  # the token is the credential
    permission_classes = [AllowAny]
    renderer_classes = [FastJSONRenderer, DoseAnswerPageRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # An anonymous read, yet it names a patient and a medication: no cache keeps it, and
        # the token in the address goes nowhere as a referrer.
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    def _token(self, request) -> str:
        posted = request.data.get("token") if hasattr(request.data, "get") else None
        return str(posted or request.query_params.get("token") or "")

    @extend_schema(
        parameters=[TOKEN_PARAM],
        responses={200: DoseLinkSerializer, 400: OpenApiResponse(description="Bad link.")},
        description="What the link records, and whether the dose has an answer already.",
    )
    def get(self, request):
        answer = service.read_dose_answer(self._token(request))
        medication, _ = service.dose_link_target(answer)
        dose = service.existing_dose(medication, answer.slot)
        return Response(_answer_body(answer, medication, dose, created=False))

    @extend_schema(
        parameters=[TOKEN_PARAM],
        request=None,
        responses={
            201: DoseLinkSerializer,
            200: OpenApiResponse(DoseLinkSerializer, description="The dose had an answer."),
            400: OpenApiResponse(description="The link is altered, incomplete or expired."),
        },
        description="Records the link's answer once; later uses say it was recorded.",
    )
    def post(self, request):
        dose, created, answer, medication = service.dose_answer_by_link(
            token=self._token(request), ip_address=client_ip(request)
        )
        body = _answer_body(answer, medication, dose, created=created)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


urlpatterns = [path("doses/answer", DoseAnswerView.as_view(), name="dose-answer")]
