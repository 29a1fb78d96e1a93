"""Gauges: /gauges, /gauges/{id}, /patients/{patient_id}/gauges."""

import django_filters
from drf_spectacular.utils import extend_schema

from patients.core.filtersets import PatientOwnedFilterSet
from patients.core.serializers import BASE_FIELDS, TIMESTAMP_FIELDS, PatientOwnedSerializer
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.models import Gauge


class GaugeSerializer(PatientOwnedSerializer):
    class Meta:
        model = Gauge
        fields = [
            *BASE_FIELDS,
            "gauge_type",
            "value",
            "scale_min",
            "scale_max",
            "recorded_at",
            "notes",
            "medication_id",
            *TIMESTAMP_FIELDS,
        ]


class GaugeFilterSet(PatientOwnedFilterSet):
    gauge_type = django_filters.CharFilter(field_name="gauge_type", method="filter_type")
    start_date = django_filters.DateFilter(field_name="recorded_at", lookup_expr="date__gte")
    end_date = django_filters.DateFilter(field_name="recorded_at", lookup_expr="date__lte")

    class Meta:
        model = Gauge
        fields: list = []

    def filter_type(self, queryset, name, value):
        return queryset.filter(gauge_type=value.strip().lower().replace(" ", "_"))


@record_viewset_schema
@extend_schema(tags=["gauges"])
class GaugeViewSet(PatientOwnedViewSet):
    queryset = Gauge.objects.all()
    serializer_class = GaugeSerializer
    filterset_class = GaugeFilterSet
    delete_status = 200


def register(router, nested, register_record):
    register_record(router, nested, "gauges", GaugeViewSet, "gauge")
