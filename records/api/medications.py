"""Medications: /medications, /medications/{id}, /medications/patient/{patient_id}, and the
dose log (/medications/{id}/doses, /doses/answer: records/api/doses.py)."""

import django_filters
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers

from patients.core.filtersets import TaggedFilterSet
from patients.core.serializers import BASE_FIELDS, TIMESTAMP_FIELDS, PatientOwnedSerializer
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api.doses import AdherenceSerializer, MedicationDoseActions
from records.api.doses import urlpatterns as dose_urlpatterns
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    PharmacySummarySerializer,
    PractitionerSummarySerializer,
)
from records.models import Medication
from records.services.doses import AdherenceWindow, adherence_of, with_adherence_counts


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
    adherence = serializers.SerializerMethodField()

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
            "adherence",
            *TIMESTAMP_FIELDS,
        ]

    @extend_schema_field(AdherenceSerializer)
    def get_adherence(self, medication):
        """Doses of the last 30 days: due (scheduled), taken and skipped (the dose log)."""
        if not isinstance(medication, Medication):
            return None
        window = self.context.get("adherence_window") or AdherenceWindow.ending()
        return adherence_of(medication, window)


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
@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "Daily tablet with reminders",
                value={
                    "patient_id": 12,
                    "medication_name": "Metformin",
                    "dosage": "500 mg",
                    "frequency": "twice daily",
                    "route": "oral",
                    "medication_type": "prescription",
                    "status": "active",
                    "effective_period_start": "2026-01-15",
                    "indication": "Type 2 diabetes",
                    "reminder_enabled": True,
                    "reminder_times": ["08:00", "20:00"],
                    "tags": ["diabetes"],
                },
                request_only=True,
            )
        ]
    )
)
@extend_schema(tags=["medications"])
class MedicationViewSet(MedicationDoseActions, PatientOwnedViewSet):
    queryset = Medication.objects.select_related(PRACTITIONER_JOIN, "pharmacy")
    serializer_class = MedicationSerializer
    filterset_class = MedicationFilterSet

    # Actions answering with medications: their rows carry the dose counts of the window.
    adherence_actions = frozenset({"list", "retrieve", "by_patient", "update", "partial_update"})

    def adherence_window(self) -> AdherenceWindow:
        if not hasattr(self, "_adherence_window"):
            self._adherence_window = AdherenceWindow.ending()
        return self._adherence_window

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action in self.adherence_actions:
            queryset = with_adherence_counts(queryset, self.adherence_window())
        return queryset

    def perform_create(self, serializer):
        super().perform_create(serializer)
        # A medication created just now has no answers yet: nothing to count.
        serializer.instance.doses_taken = serializer.instance.doses_skipped = 0

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "adherence_window": self.adherence_window()}


urlpatterns = dose_urlpatterns


def register(router, nested, register_record):
    register_record(router, nested, "medications", MedicationViewSet, "medication")
