"""Medications: /medications, /medications/{id}, /medications/patient/{patient_id}."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from patients.core.filtersets import TaggedFilterSet
from patients.core.serializers import BASE_FIELDS, TIMESTAMP_FIELDS, PatientOwnedSerializer
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    PharmacySummarySerializer,
    PractitionerSummarySerializer,
)
from records.models import Medication


class MedicationSerializer(PatientOwnedSerializer):
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    pharmacy = PharmacySummarySerializer(read_only=True, allow_null=True)
    reminder_times = serializers.ListField(
        child=serializers.CharField(max_length=5), required=False, max_length=50
    )
    reminder_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        allow_null=True,
        max_length=7,
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )

    class Meta:
        model = Medication
        fields = [
            *BASE_FIELDS,
            "medication_name",
            "alternative_name",
            "medication_type",
            "dosage",
            "frequency",
            "route",
            "indication",
            "effective_period_start",
            "effective_period_end",
            "status",
            "notes",
            "side_effects",
            "tags",
            "reminder_enabled",
            "reminder_times",
            "reminder_message",
            "reminder_days",
            *PRACTITIONER_FIELDS,
            "pharmacy_id",
            "pharmacy",
            *TIMESTAMP_FIELDS,
        ]


class MedicationFilterSet(TaggedFilterSet):
    search_fields = ("medication_name", "alternative_name", "indication")

    name = django_filters.CharFilter(
        method="filter_name", help_text="Part of the medication's name."
    )
    status = django_filters.CharFilter(field_name="status")
    active_only = django_filters.BooleanFilter(method="filter_active_only")

    class Meta:
        model = Medication
        fields: list = []

    def filter_name(self, queryset, name, value):
        return self.filter_search(queryset, name, value)

    def filter_active_only(self, queryset, name, value):
        return queryset.filter(status="active") if value else queryset


@record_viewset_schema
@extend_schema(tags=["medications"])
class MedicationViewSet(PatientOwnedViewSet):
    queryset = Medication.objects.select_related(PRACTITIONER_JOIN, "pharmacy")
    serializer_class = MedicationSerializer
    filterset_class = MedicationFilterSet


def register(router, nested, register_record):
    register_record(router, nested, "medications", MedicationViewSet, "medication")
