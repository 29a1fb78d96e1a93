"""The web app's per-patient component paths (web-client-api.md §5.9), mixed into the
component viewset: /lab-test-components/patient/{patient_id}/all and …/trends."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.representation import FastSerializer
from records.lab_trends import MAX_POINTS, trend_points, trend_statistics
from records.models.labs import LabTestComponentResultType

PATIENT_PATH = r"patient/(?P<patient_id>[0-9]+)"
# Every component of a patient in one answer (the app's catalogue and "stack" views).
ALL_LIMIT = 10_000


class TrendQuerySerializer(FastSerializer):
    test_name = serializers.CharField(max_length=200)
    date_from = serializers.DateField(required=False, allow_null=True)
    date_to = serializers.DateField(required=False, allow_null=True)
    limit = serializers.IntegerField(required=False, min_value=1, default=MAX_POINTS)
    unit = serializers.CharField(
        required=False, allow_blank=True, max_length=50, trim_whitespace=False
    )

    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and end < start:
            raise serializers.ValidationError({"date_to": ["The end date is before the start."]})
        return attrs


class TrendLabResultSerializer(FastSerializer):
    id = serializers.IntegerField()
    test_name = serializers.CharField()
    completed_date = serializers.DateField(allow_null=True)


class TrendPointSerializer(FastSerializer):
    id = serializers.IntegerField()
    value = serializers.FloatField(allow_null=True)
    unit = serializers.CharField()
    status = serializers.CharField()
    ref_range_min = serializers.FloatField(allow_null=True)
    ref_range_max = serializers.FloatField(allow_null=True)
    ref_range_text = serializers.CharField()
    recorded_date = serializers.DateField(
        help_text="The lab result's completed date, else its ordered date, else the day the "
        "component was entered."
    )
    created_at = serializers.DateTimeField()
    lab_result = TrendLabResultSerializer()
    result_type = serializers.CharField()
    qualitative_value = serializers.CharField()
    textual_value = serializers.CharField()


class TrendStatisticsSerializer(FastSerializer):
    count = serializers.IntegerField()
    latest = serializers.FloatField(allow_null=True)
    average = serializers.FloatField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    std_dev = serializers.FloatField(allow_null=True)
    trend_direction = serializers.ChoiceField(
        choices=["increasing", "decreasing", "stable"],
        help_text="Least-squares slope over the period; stable with fewer than 3 points or a "
        "change under 10 % of max(range, 1 % of the mean).",
    )
    time_in_range_percent = serializers.FloatField(allow_null=True)
    normal_count = serializers.IntegerField()
    abnormal_count = serializers.IntegerField()
    result_type = serializers.CharField()
    qualitative_summary = serializers.DictField(child=serializers.IntegerField(), allow_null=True)


class TrendSerializer(FastSerializer):
    test_name = serializers.CharField()
    unit = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    data_points = TrendPointSerializer(many=True)
    statistics = TrendStatisticsSerializer()
    is_aggregated = serializers.BooleanField()
    aggregation_period = serializers.CharField(allow_null=True)
    result_type = serializers.CharField()


def _query(name, kind, description, *, required=False):
    return OpenApiParameter(
        name, kind, OpenApiParameter.QUERY, required=required, description=description
    )


class PatientComponentsMixin:
    """Adds the two paths to LabTestComponentViewSet; access to the patient is checked by
    the viewset's target_patient_id (a patient you cannot see: 403/404)."""

    all_serializer_class: type[serializers.Serializer]

    # Its response schema is declared on the viewset (the serializer lives there).
    @extend_schema(parameters=[_query("skip", OpenApiTypes.INT, "Components to skip.")])
    @action(
        detail=False,
        methods=["get"],
        url_path=rf"{PATIENT_PATH}/all",
        default_limit=ALL_LIMIT,
        max_limit=ALL_LIMIT,
    )
    def patient_all(self, request, patient_id):
        """Every component of the patient (bare array) with its lab result's completed and
        ordered dates and facility, in one query."""
        return self.list_of(self.get_queryset(), self.all_serializer_class)

    @extend_schema(
        parameters=[
            _query("test_name", OpenApiTypes.STR, "The test's name (any case).", required=True),
            _query("date_from", OpenApiTypes.DATE, "Points dated from this day."),
            _query("date_to", OpenApiTypes.DATE, "Points dated up to this day."),
            _query("limit", OpenApiTypes.INT, f"Newest points to use (at most {MAX_POINTS})."),
            _query("unit", OpenApiTypes.STR, 'Only this unit; "" = components without one.'),
        ],
        responses=TrendSerializer,
    )
    @action(detail=False, methods=["get"], url_path=rf"{PATIENT_PATH}/trends")
    def trends(self, request, patient_id):
        """One test's history for the patient, newest first, with statistics; components
        still waiting for their value are left out."""
        patient = self.target_patient_id()
        query = TrendQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = trend_points(
            patient,
            params["test_name"],
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            unit=params.get("unit"),
            limit=min(params["limit"], MAX_POINTS),
        )
        newest = rows[0] if rows else None
        result_type = newest.result_type if newest else LabTestComponentResultType.QUANTITATIVE
        unit = params.get("unit")
        body = {
            "test_name": params["test_name"],
            "unit": unit if unit is not None else (newest.unit if newest else ""),
            "category": (newest.category or None) if newest else None,
            "data_points": [
                {
                    **{
                        name: getattr(row, name)
                        for name in (
                            "id",
                            "value",
                            "unit",
                            "status",
                            "ref_range_min",
                            "ref_range_max",
                            "ref_range_text",
                            "recorded_date",
                            "created_at",
                            "result_type",
                            "qualitative_value",
                            "textual_value",
                        )
                    },
                    "lab_result": row.lab_result,
                }
                for row in rows
            ],
            "statistics": trend_statistics(
                [row for row in rows if row.result_type == result_type], result_type
            ),
            "is_aggregated": False,
            "aggregation_period": None,
            "result_type": result_type,
        }
        return Response(TrendSerializer(body).data)
