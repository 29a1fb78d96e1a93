from drf_spectacular.utils import extend_schema

from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api import serializers as s
from records.filtersets import GaugeFilterSet, MedicationFilterSet
from records.models import Gauge, Medication


@record_viewset_schema
@extend_schema(tags=["medications"])
class MedicationViewSet(PatientOwnedViewSet):
    queryset = Medication.objects.all()
    serializer_class = s.MedicationSerializer
    filterset_class = MedicationFilterSet


@record_viewset_schema
@extend_schema(tags=["gauges"])
class GaugeViewSet(PatientOwnedViewSet):
    queryset = Gauge.objects.all()
    serializer_class = s.GaugeSerializer
    filterset_class = GaugeFilterSet
    delete_status = 200
