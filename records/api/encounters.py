"""Encounters (visits): /encounters, /encounters/{id}, /encounters/patient/{patient_id}.

Their links to lab results live with the lab results (records/api/labs.py).
"""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from medikeep.api.representation import FastModelSerializer, FastSerializer
from patients.core.filtersets import TaggedFilterSet
from patients.core.serializers import BASE_FIELDS, TIMESTAMP_FIELDS, PatientOwnedSerializer
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    PractitionerSummarySerializer,
)
from records.models import Encounter

REQUIRED = "This field is required."
MAX_ID = 2**62


class EncounterSerializer(PatientOwnedSerializer):
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    # The contract's example says encounter_type / encounter_date; the reference and the UI
    # say visit_type / date.
    field_aliases = {"encounter_date": "date", "encounter_type": "visit_type"}

    reason = serializers.CharField(max_length=200, min_length=2, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )

    class Meta:
        model = Encounter
        fields = [
            *BASE_FIELDS,
            "reason",
            "date",
            "visit_type",
            "chief_complaint",
            "diagnosis",
            "treatment_plan",
            "follow_up_instructions",
            "duration_minutes",
            "location",
            "priority",
            "notes",
            "condition_id",
            "tags",
            *PRACTITIONER_FIELDS,
            *TIMESTAMP_FIELDS,
        ]

    def validate(self, attrs):
        if self.instance is None:
            if not attrs.get("date"):
                raise serializers.ValidationError({"date": [REQUIRED]})
            if not attrs.get("reason"):
                # The contract's create example has no reason: the visit is then named by
                # its chief complaint, else its type, as the UI lists it.
                fallback = (attrs.get("chief_complaint") or attrs.get("visit_type") or "").strip()
                if not fallback:
                    raise serializers.ValidationError({"reason": [REQUIRED]})
                attrs["reason"] = fallback[:200]
        return super().validate(attrs)


class EncounterSummarySerializer(FastModelSerializer):
    """The visit as shown inside links and other records."""

    class Meta:
        model = Encounter
        fields = ["id", "reason", "date", "visit_type", "priority"]
        read_only_fields = fields


class DeletedSerializer(FastSerializer):
    message = serializers.CharField()


class EncounterFilterSet(TaggedFilterSet):
    search_fields = ("reason", "chief_complaint", "diagnosis", "visit_type", "notes")

    priority = django_filters.CharFilter(field_name="priority")
    visit_type = django_filters.CharFilter(field_name="visit_type", lookup_expr="iexact")
    encounter_type = django_filters.CharFilter(field_name="visit_type", lookup_expr="iexact")
    condition_id = django_filters.NumberFilter(
        field_name="condition_id", min_value=1, max_value=MAX_ID, decimal_places=0
    )
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = Encounter
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["encounters"])
class EncounterViewSet(PatientOwnedViewSet):
    queryset = Encounter.objects.select_related(PRACTITIONER_JOIN)
    serializer_class = EncounterSerializer
    filterset_class = EncounterFilterSet
    delete_status = 200


def register(router, nested, register_record):
    register_record(router, nested, "encounters", EncounterViewSet, "encounter")
