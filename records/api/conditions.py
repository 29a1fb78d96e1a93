"""Conditions and their medication links."""

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.representation import FastModelSerializer
from patients.core.filtersets import TaggedFilterSet
from patients.core.links import LinkFamily, link_urlpatterns
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    PatientBriefSerializer,
    PatientOwnedSerializer,
)
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    ConditionSummarySerializer,
    MedicationSummarySerializer,
    PractitionerSummarySerializer,
)
from records.models import Condition, ConditionMedication, Treatment


class ConditionTreatmentSerializer(FastModelSerializer):
    """A treatment of the condition, as the condition shows it."""

    name = serializers.CharField(source="treatment_name", read_only=True)

    class Meta:
        model = Treatment
        fields = ["id", "name", "status"]
        read_only_fields = fields


class ConditionSerializer(PatientOwnedSerializer):
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    patient = PatientBriefSerializer(read_only=True)
    treatments = ConditionTreatmentSerializer(
        many=True, read_only=True, help_text="The treatments of this condition."
    )
    # The reference (and its web app) names the field "diagnosis".
    field_aliases = {"diagnosis": "condition_name"}

    tags = serializers.ListField(child=serializers.CharField(max_length=200), required=False)

    class Meta:
        model = Condition
        fields = [
            *BASE_FIELDS,
            "condition_name",
            "status",
            "severity",
            "diagnosed_date",
            "onset_date",
            "end_date",
            "icd10_code",
            "snomed_code",
            "code_description",
            "notes",
            "tags",
            *PRACTITIONER_FIELDS,
            "patient",
            "treatments",
            *TIMESTAMP_FIELDS,
        ]


class ConditionDropdownSerializer(FastModelSerializer):
    # The contract lists condition_name; the web app builds its labels from diagnosis.
    diagnosis = serializers.CharField(source="condition_name", read_only=True)

    class Meta:
        model = Condition
        fields = ["id", "condition_name", "diagnosis", "status", "severity"]


class ConditionFilterSet(TaggedFilterSet):
    search_fields = ("condition_name", "icd10_code", "notes")

    status = django_filters.CharFilter(field_name="status")
    severity = django_filters.CharFilter(field_name="severity")
    active_only = django_filters.BooleanFilter(method="filter_active_only")

    class Meta:
        model = Condition
        fields: list = []

    def filter_active_only(self, queryset, name, value):
        return queryset.filter(status="active") if value else queryset


@record_viewset_schema
@extend_schema(tags=["conditions"])
class ConditionViewSet(PatientOwnedViewSet):
    queryset = Condition.objects.select_related("patient", PRACTITIONER_JOIN).prefetch_related(
        Prefetch("treatments", queryset=Treatment.objects.order_by("id"))
    )
    serializer_class = ConditionSerializer
    filterset_class = ConditionFilterSet
    delete_status = 200

    @extend_schema(responses=ConditionDropdownSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def dropdown(self, request):
        """Conditions of the active (or given) patient for a form's select box."""
        queryset = self.filter_queryset(self.get_queryset()).order_by("condition_name", "id")
        return Response(ConditionDropdownSerializer(queryset, many=True).data)

    @action(detail=False, methods=["get"], url_path=r"patient/(?P<patient_id>[0-9]+)/active")
    def active_for_patient(self, request, patient_id):
        """Active conditions of one patient."""
        return self.list_of(self.get_queryset().filter(status="active"))

    @action(detail=False, methods=["get"], url_path=r"patients/(?P<patient_id>[0-9]+)/conditions")
    def for_patient(self, request, patient_id):
        """All conditions of one patient (the same list as /conditions/patient/{patient_id})."""
        return self.list(request)


CONDITION_MEDICATION = LinkFamily(
    model=ConditionMedication,
    parent="condition",
    child="medication",
    child_summary=MedicationSummarySerializer,
    extra_fields=("relevance_note",),
    delete_message="Condition medication relationship deleted successfully",
)
MEDICATION_CONDITION = LinkFamily(
    model=ConditionMedication,
    parent="medication",
    child="condition",
    child_summary=ConditionSummarySerializer,
    extra_fields=("relevance_note",),
    delete_message="Condition medication relationship deleted successfully",
)

urlpatterns = link_urlpatterns(
    CONDITION_MEDICATION,
    base="conditions/<int:parent_id>/medications",
    list_paths=("conditions/condition-medications/<int:parent_id>",),
    tag="conditions",
) + link_urlpatterns(
    MEDICATION_CONDITION,
    list_paths=("conditions/medication/<int:parent_id>/conditions",),
    tag="conditions",
)


def register(router, nested, register_record):
    register_record(router, nested, "conditions", ConditionViewSet, "condition")
