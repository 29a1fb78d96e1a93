"""Vitals: /vitals, /vitals/{id}, /vitals/stats and the /vitals/patient/{patient_id}/… paths."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import django_filters
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from medikeep.api.exceptions import BusinessRuleError, FieldValidationError
from medikeep.api.pagination import skip_limit
from medikeep.api.representation import FastSerializer
from patients.core.filtersets import PatientOwnedFilterSet
from patients.core.serializers import BASE_FIELDS, TIMESTAMP_FIELDS, PatientOwnedSerializer
from patients.core.views import PATIENT_ID_PARAM, PatientOwnedViewSet, record_viewset_schema
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    PractitionerSummarySerializer,
)
from records.api.vitals_import import VitalsImportMixin
from records.models import MEASURES, Vitals, VitalsGlucoseContext, VitalsTrend, VitalType

# The contract's limits: /vitals/patient/{id} and /date-range return up to 10 000 readings,
# /paginated pages of 10 (at most 100). /vitals itself keeps the house default of 100 (the
# lead's brief; the contract's text says 10 000 there too).
PATIENT_LIST_LIMIT = 10_000
PAGE_DEFAULT_LIMIT = 10
PAGE_MAX_LIMIT = 100
MAX_DAYS = 36_500
# Filter bounds outside these years are refused (a bound near year 1 overflows on conversion).
EARLIEST_YEAR = 1900
LATEST_YEAR = 9998

TEXT_FIELDS = ("location", "device_used", "notes")


# --- serializers ----------------------------------------------------------------------------


class FacilityDateTimeField(serializers.DateTimeField):
    """Naive input is facility-local time (the TZ setting); output is always UTC ("Z")."""

    def default_timezone(self):
        return timezone.get_default_timezone()

    def to_representation(self, value):
        return utc_iso(value) if value else None


def utc_iso(value: dt.datetime) -> str:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class LowerChoiceField(serializers.ChoiceField):
    """Clients of the reference send enum values in any case; they are stored lower-case."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().lower()
        return super().to_internal_value(data)


def _measure_kwargs() -> dict:
    """The range message of each measure, instead of DRF's generic one."""
    kwargs = {}
    for name, measure in MEASURES.items():
        message = measure.range_message.replace("%", "%%")  # %-formatted like the model's
        kwargs[name] = {"error_messages": {"min_value": message, "max_value": message}}
    return kwargs


class VitalsSerializer(PatientOwnedSerializer):
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    recorded_date = FacilityDateTimeField(
        help_text="When the reading was taken; a value without offset is facility-local time."
    )
    glucose_context = LowerChoiceField(
        choices=VitalsGlucoseContext.choices, required=False, allow_blank=True, allow_null=True
    )
    created_at = FacilityDateTimeField(read_only=True)
    updated_at = FacilityDateTimeField(read_only=True)

    class Meta:
        model = Vitals
        fields = [
            *BASE_FIELDS,
            "recorded_date",
            *MEASURES,
            "glucose_context",
            *TEXT_FIELDS,
            "import_source",
            *PRACTITIONER_FIELDS,
            *TIMESTAMP_FIELDS,
        ]
        read_only_fields = ["import_source"]
        extra_kwargs = {
            **_measure_kwargs(),
            **{name: {"allow_null": True} for name in TEXT_FIELDS},
        }

    def validate(self, attrs):
        # The reference's clients send null for an empty optional text.
        for name in (*TEXT_FIELDS, "glucose_context"):
            if name in attrs and attrs[name] is None:
                attrs[name] = ""
        # A new weight or height makes a stored BMI stale: recompute unless one is sent.
        if self.instance is not None and {"weight", "height"} & set(attrs) and "bmi" not in attrs:
            attrs["bmi"] = None
        try:
            return super().validate(attrs)
        except serializers.ValidationError as exc:
            # The model's "at least one measurement" is a non-field error: give it DRF's key
            # rather than Django's "__all__".
            if isinstance(exc.detail, dict) and NON_FIELD_ERRORS in exc.detail:
                exc.detail[api_settings.NON_FIELD_ERRORS_KEY] = exc.detail.pop(NON_FIELD_ERRORS)
            raise

    def to_representation(self, instance):
        # Lists return up to 10 000 readings: read the attributes directly instead of through
        # DRF's per-field get_attribute, and convert plain values without a method call;
        # the output is the same (tested).
        data = {}
        for name, attribute, convert, field in self._renderers():
            value = getattr(instance, attribute) if field is None else field.get_attribute(instance)
            data[name] = None if value is None else convert(value)
        return data

    def _renderers(self) -> list[tuple]:
        # One serializer renders every row of a list: work the fields out once.
        if getattr(self, "_renderer_cache", None) is None:
            renderers = []
            for name, field in self.fields.items():
                if field.write_only:
                    continue
                convert = _PLAIN_RENDERERS.get(type(field), field.to_representation)
                direct = len(field.source_attrs) == 1
                renderers.append((name, field.source, convert, None if direct else field))
            self._renderer_cache = renderers
        return self._renderer_cache


# Field classes whose to_representation is a plain conversion of the attribute.
_PLAIN_RENDERERS = {
    serializers.IntegerField: int,
    serializers.FloatField: float,
    serializers.CharField: str,
    LowerChoiceField: lambda value: value,
    serializers.ChoiceField: lambda value: value,
    FacilityDateTimeField: utc_iso,
}


class VitalsDetailSerializer(VitalsSerializer):
    """One reading with its patient's name and its practitioner."""

    patient_name = serializers.CharField(source="patient.full_name", read_only=True)

    class Meta(VitalsSerializer.Meta):
        fields = [*VitalsSerializer.Meta.fields, "patient_name"]


class VitalsPageSerializer(FastSerializer):
    items = VitalsSerializer(many=True)
    total = serializers.IntegerField()
    skip = serializers.IntegerField()
    limit = serializers.IntegerField()


class MeasureStatsSerializer(FastSerializer):
    count = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    latest = serializers.FloatField(allow_null=True, help_text="The newest reading's value.")
    first_date = FacilityDateTimeField(allow_null=True)
    latest_date = FacilityDateTimeField(allow_null=True)
    trend = serializers.ChoiceField(
        choices=VitalsTrend.choices,
        allow_null=True,
        help_text="Average of the newest third of the measure's time span against the oldest "
        "third: stable within 2 % (and with fewer than 3 readings); null without readings.",
    )


MeasuresSerializer = type(
    "VitalsMeasuresSerializer",
    (serializers.Serializer,),
    {name: MeasureStatsSerializer() for name in MEASURES},
)


class BloodPressureAverageSerializer(FastSerializer):
    systolic = serializers.FloatField(allow_null=True)
    diastolic = serializers.FloatField(allow_null=True)


class VitalsStatsSerializer(FastSerializer):
    total_readings = serializers.IntegerField()
    latest_reading_date = FacilityDateTimeField(allow_null=True)
    first_reading_date = FacilityDateTimeField(allow_null=True)
    avg_systolic_bp = serializers.FloatField(allow_null=True)
    avg_diastolic_bp = serializers.FloatField(allow_null=True)
    avg_heart_rate = serializers.FloatField(allow_null=True)
    avg_temperature = serializers.FloatField(allow_null=True)
    current_temperature = serializers.FloatField(allow_null=True)
    current_weight = serializers.FloatField(allow_null=True)
    current_bmi = serializers.FloatField(
        allow_null=True,
        help_text="The newest stored BMI, else computed from the newest weight and height.",
    )
    weight_change = serializers.FloatField(
        allow_null=True, help_text="Newest weight minus the first one."
    )
    current_blood_glucose = serializers.FloatField(allow_null=True)
    current_a1c = serializers.FloatField(allow_null=True)
    blood_pressure_avg = BloodPressureAverageSerializer()
    heart_rate_avg = serializers.FloatField(allow_null=True)
    weight_trend = serializers.ChoiceField(choices=VitalsTrend.choices, allow_null=True)
    measures = MeasuresSerializer()


# --- filters --------------------------------------------------------------------------------


class DateOrDateTimeField(forms.Field):
    """An ISO date ("2025-10-04") or datetime; naive datetimes are facility-local time."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            moment = parse_date(text) if len(text) <= 10 else None
            moment = moment or parse_datetime(text)
        except (ValueError, OverflowError):
            moment = None
        if moment is None:
            raise forms.ValidationError("Give an ISO date or datetime (2025-10-04T10:30:00Z).")
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            raise forms.ValidationError(f"Give a date between {EARLIEST_YEAR} and {LATEST_YEAR}.")
        if isinstance(moment, dt.datetime) and timezone.is_naive(moment):
            moment = timezone.make_aware(moment, timezone.get_default_timezone())
        return moment


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def range_bound(value, *, end: bool) -> tuple[str, dt.datetime] | None:
    """The recorded_date lookup for a start or end bound; a date covers its whole day."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return ("recorded_date__lte" if end else "recorded_date__gte"), value
    if end:
        return "recorded_date__lt", _day_start(value + dt.timedelta(days=1))
    return "recorded_date__gte", _day_start(value)


class DateOrDateTimeFilter(django_filters.CharFilter):
    field_class = DateOrDateTimeField


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class VitalsFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        start = range_bound(cleaned.get("start_date"), end=False)
        end = range_bound(cleaned.get("end_date"), end=True)
        if start and end:
            lookup, limit = end
            # An exclusive end (the day after a date-only end_date) may not equal the start.
            empty = limit <= start[1] if lookup == "recorded_date__lt" else limit < start[1]
            if empty:
                self.add_error("end_date", "The end date is before the start date.")
        return cleaned


class VitalsFilterSet(PatientOwnedFilterSet):
    search_fields = ("notes", "location", "device_used")

    vital_type = django_filters.ChoiceFilter(
        choices=VitalType.choices,
        method="filter_vital_type",
        help_text="Only readings that carry this measurement.",
    )
    glucose_context = django_filters.ChoiceFilter(
        choices=VitalsGlucoseContext.choices, field_name="glucose_context"
    )
    start_date = DateOrDateTimeFilter(
        method="filter_start",
        help_text="Readings from this date or datetime on (ISO 8601).",
    )
    end_date = DateOrDateTimeFilter(
        method="filter_end",
        help_text="Readings up to this datetime, or to the end of this date (ISO 8601).",
    )
    days = IntegerFilter(
        method="filter_days",
        min_value=1,
        max_value=MAX_DAYS,
        help_text="Only readings of the last N days.",
    )

    class Meta:
        model = Vitals
        fields: list = []
        form = VitalsFilterForm

    def filter_vital_type(self, queryset, name, value):
        return queryset.with_measure(value)

    def filter_start(self, queryset, name, value):
        bound = range_bound(value, end=False)
        return queryset.filter(**{bound[0]: bound[1]}) if bound else queryset

    def filter_end(self, queryset, name, value):
        bound = range_bound(value, end=True)
        return queryset.filter(**{bound[0]: bound[1]}) if bound else queryset

    def filter_days(self, queryset, name, value):
        return queryset.filter(recorded_date__gte=timezone.now() - dt.timedelta(days=value))


# --- views ----------------------------------------------------------------------------------


def _query(name: str, kind, description: str, *, required: bool = False, enum=None):
    return OpenApiParameter(
        name, kind, OpenApiParameter.QUERY, required=required, description=description, enum=enum
    )


VITAL_TYPE_PARAM = _query(
    "vital_type", OpenApiTypes.STR, "Only readings with this measurement.", enum=VitalType.values
)
GLUCOSE_CONTEXT_PARAM = _query(
    "glucose_context",
    OpenApiTypes.STR,
    "Only readings with this glucose context.",
    enum=VitalsGlucoseContext.values,
)
DATE_PARAMS = [
    _query("start_date", OpenApiTypes.STR, "From this ISO date or datetime."),
    _query("end_date", OpenApiTypes.STR, "Up to this ISO datetime or to the end of this date."),
    _query("days", OpenApiTypes.INT, "Only the last N days."),
]
PAGE_PARAMS = [
    _query("skip", OpenApiTypes.INT, "Items to skip (default 0)."),
    _query(
        "limit",
        OpenApiTypes.INT,
        f"Items per page (default {PAGE_DEFAULT_LIMIT}, at most {PAGE_MAX_LIMIT}).",
    ),
]
STATS_PARAMS = [VITAL_TYPE_PARAM, GLUCOSE_CONTEXT_PARAM, *DATE_PARAMS]
PATIENT_PATH = r"patient/(?P<patient_id>[0-9]+)"


@record_viewset_schema
@extend_schema(tags=["vitals"])
class VitalsViewSet(VitalsImportMixin, PatientOwnedViewSet):
    queryset = Vitals.objects.select_related(PRACTITIONER_JOIN)
    serializer_class = VitalsSerializer
    filterset_class = VitalsFilterSet
    delete_status = 200

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.select_related("patient")
        return queryset

    def get_serializer_class(self):
        return (
            VitalsDetailSerializer if self.action == "retrieve" else super().get_serializer_class()
        )

    @extend_schema(responses=VitalsSerializer(many=True))
    @action(
        detail=False,
        methods=["get"],
        url_path=PATIENT_PATH,
        default_limit=PATIENT_LIST_LIMIT,
        max_limit=PATIENT_LIST_LIMIT,
    )
    def by_patient(self, request, *args, **kwargs):
        """All readings of one patient, newest first (up to 10 000 a page)."""
        return self.list(request, *args, **kwargs)

    @extend_schema(
        parameters=[VITAL_TYPE_PARAM, GLUCOSE_CONTEXT_PARAM, *DATE_PARAMS, *PAGE_PARAMS],
        responses=VitalsPageSerializer,
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=rf"{PATIENT_PATH}/paginated",
        pagination_class=None,
    )
    def paginated(self, request, patient_id):
        """A page of one patient's readings with the total count of the filtered readings."""
        queryset = self.filter_queryset(self.get_queryset())
        skip, limit = skip_limit(
            request, default_limit=PAGE_DEFAULT_LIMIT, max_limit=PAGE_MAX_LIMIT
        )
        items = self.get_serializer(queryset[skip : skip + limit], many=True).data
        return Response({"items": items, "total": queryset.count(), "skip": skip, "limit": limit})

    @extend_schema(parameters=[VITAL_TYPE_PARAM, GLUCOSE_CONTEXT_PARAM], responses=VitalsSerializer)
    @action(
        detail=False, methods=["get"], url_path=rf"{PATIENT_PATH}/latest", pagination_class=None
    )
    def latest(self, request, patient_id):
        """The patient's newest reading (of a measurement, with vital_type); 404 without one."""
        record = self.filter_queryset(self.get_queryset()).first()
        if record is None:
            raise NotFound("No vitals readings found")
        return Response(self.get_serializer(record).data)

    @extend_schema(parameters=[PATIENT_ID_PARAM, *STATS_PARAMS], responses=VitalsStatsSerializer)
    @action(detail=False, methods=["get"], pagination_class=None)
    def stats(self, request):
        """Statistics of the active (or given) patient's readings."""
        return self._stats()

    @extend_schema(parameters=STATS_PARAMS, responses=VitalsStatsSerializer)
    @action(detail=False, methods=["get"], url_path=rf"{PATIENT_PATH}/stats", pagination_class=None)
    def patient_stats(self, request, patient_id):
        """Statistics of one patient's readings: averages, extremes, latest values, trends."""
        return self._stats()

    def _stats(self):
        # target_patient_id() has checked the user's access to the patient (403/404), so the
        # aggregates read that patient's rows without the general access subquery, which
        # SQLite would test against every one of up to a few hundred thousand readings.
        patient_id = self.target_patient_id()
        if self.request.query_params.keys() & VitalsFilterSet.base_filters.keys():
            queryset = self.filter_queryset(Vitals.objects.for_patient(patient_id))
            stats = queryset.stats(patient_id)
        else:  # all the patient's readings: cached until the next write
            stats = Vitals.objects.patient_stats(patient_id)
        return Response(VitalsStatsSerializer(stats).data)

    @extend_schema(
        parameters=[
            _query(
                "start_date", OpenApiTypes.STR, "From this ISO date or datetime.", required=True
            ),
            _query(
                "end_date",
                OpenApiTypes.STR,
                "Up to this ISO datetime or to the end of this date.",
                required=True,
            ),
        ],
        responses=VitalsSerializer(many=True),
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=rf"{PATIENT_PATH}/date-range",
        default_limit=PATIENT_LIST_LIMIT,
        max_limit=PATIENT_LIST_LIMIT,
    )
    def date_range(self, request, patient_id):
        """One patient's readings between start_date and end_date (both required)."""
        queryset = self.get_queryset()  # 404 / 403 for the patient come first
        missing = {
            name: ["This query parameter is required."]
            for name in ("start_date", "end_date")
            if not request.query_params.get(name, "").strip()
        }
        if missing:
            raise ValidationError(missing)
        return self.list_of(queryset)

    @extend_schema(request=VitalsSerializer, responses={201: VitalsSerializer})
    @action(detail=False, methods=["post"], url_path=rf"{PATIENT_PATH}/vitals")
    def create_for_patient(self, request, patient_id):
        """Creates a reading for the patient of the path; a different body patient_id is a 400."""
        self.target_patient_id()  # 404 / 403 for the patient come first
        body = request.data.get("patient_id") if isinstance(request.data, Mapping) else None
        if body not in (None, ""):
            try:
                given = serializers.IntegerField().run_validation(body)
            except serializers.ValidationError as exc:
                raise FieldValidationError("patient_id", "A valid integer is required.") from exc
            if given != int(patient_id):
                raise BusinessRuleError(
                    "The patient_id in the body does not match the patient in the path."
                )
        return self.create(request)


def register(router, nested, register_record):
    register_record(router, nested, "vitals", VitalsViewSet, "vitals")
