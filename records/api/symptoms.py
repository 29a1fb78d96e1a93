"""Symptoms, their occurrences, and the symptom links.

- /symptoms …: CRUD plus stats and timeline.
- /symptoms/{symptom_id}/occurrences[/{id}]: occurrences under their symptom (the contract's
  path), and /symptom-occurrences … for all of a patient's occurrences.
- Links (patients/core/links.py): symptom ⇄ condition, medication and treatment. The contract
  lists them at /symptoms/{id}/<conditions|medications|treatments> and links and unlinks
  through /symptoms/{id}/link-<x> and /symptoms/{id}/unlink-<x>/{x_id}, all served by the
  one link viewset of each family.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import django_filters
from django.db.models import Count, Q
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.representation import FastModelSerializer, FastSerializer
from patients.core.filtersets import LenientChoiceFilter, PatientOwnedFilterSet, TaggedFilterSet
from patients.core.links import LinkFamily, link_urlpatterns
from patients.core.routing import register_nested_record
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    LenientChoiceField,
    PatientOwnedSerializer,
    tags_field,
)
from patients.core.views import (
    PATIENT_ID_PARAM,
    NestedRecordMixin,
    PatientOwnedViewSet,
    record_viewset_schema,
)
from records.api.summaries import ConditionSummarySerializer, MedicationSummarySerializer
from records.models import (
    MAX_LIST_ITEM_LENGTH,
    MAX_LIST_ITEMS,
    Symptom,
    SymptomCondition,
    SymptomMedication,
    SymptomOccurrence,
    SymptomStatus,
    SymptomTreatment,
    Treatment,
)
from records.models.symptoms import local_date

MAX_ID = 2**62
RECENT_DAYS = 30


def text_list_field():
    return serializers.ListField(
        child=serializers.CharField(max_length=MAX_LIST_ITEM_LENGTH, allow_blank=True),
        required=False,
        allow_null=True,
        max_length=MAX_LIST_ITEMS * 5,  # duplicates and blanks are dropped, then limited
    )


# --- symptoms -------------------------------------------------------------------------------


class SymptomSerializer(PatientOwnedSerializer):
    # The reference names the notes general_notes; both are accepted and returned.
    field_aliases = {"general_notes": "notes"}

    typical_triggers = text_list_field()
    tags = tags_field()
    occurrence_count = serializers.SerializerMethodField()

    class Meta:
        model = Symptom
        fields = [
            *BASE_FIELDS,
            "symptom_name",
            "category",
            "body_part",
            "status",
            "is_chronic",
            "first_occurrence_date",
            "last_occurrence_date",
            "resolved_date",
            "typical_triggers",
            "notes",
            "tags",
            "occurrence_count",
            *TIMESTAMP_FIELDS,
        ]

    def get_occurrence_count(self, symptom) -> int:
        count = getattr(symptom, "occurrence_count", None)
        return count if count is not None else symptom.occurrences.count()

    def validate(self, attrs):
        if attrs.get("typical_triggers", []) is None:
            attrs["typical_triggers"] = []
        return super().validate(attrs)


class SymptomSummarySerializer(FastModelSerializer):
    class Meta:
        model = Symptom
        fields = ["id", "symptom_name", "category", "status", "is_chronic"]
        read_only_fields = fields


class SymptomFilterSet(TaggedFilterSet):
    search_fields = ("symptom_name",)

    status = LenientChoiceFilter(field_name="status", help_text="active, inactive or resolved.")
    category = django_filters.CharFilter(field_name="category", lookup_expr="iexact")
    is_chronic = django_filters.BooleanFilter(field_name="is_chronic")

    class Meta:
        model = Symptom
        fields: list = []


class SymptomStatsSerializer(FastSerializer):
    patient_id = serializers.IntegerField()
    total_symptoms = serializers.IntegerField()
    active_symptoms = serializers.IntegerField()
    inactive_symptoms = serializers.IntegerField()
    resolved_symptoms = serializers.IntegerField()
    chronic_symptoms = serializers.IntegerField()
    total_occurrences = serializers.IntegerField()
    recent_occurrences = serializers.IntegerField(
        help_text=f"Occurrences in the last {RECENT_DAYS} days."
    )
    most_frequent_symptom = serializers.CharField(allow_null=True)
    most_frequent_symptom_id = serializers.IntegerField(allow_null=True)
    most_frequent_count = serializers.IntegerField(allow_null=True)


class TimelineParams(FastSerializer):
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False)

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["The end date is before the start."]})
        return attrs


class TimelinePointSerializer(FastSerializer):
    """One occurrence on the timeline (the contract leaves the point's shape open; this is
    what the reference's web app draws)."""

    date = serializers.DateField(source="occurrence_date")
    symptom_name = serializers.CharField(source="symptom.symptom_name")
    severity = serializers.CharField()
    pain_scale = serializers.IntegerField(allow_null=True)
    occurrence_id = serializers.IntegerField(source="id")
    symptom_id = serializers.IntegerField()
    resolved_date = serializers.DateField(allow_null=True)
    symptom_status = serializers.CharField(source="symptom.status")


# --- links ----------------------------------------------------------------------------------


class SymptomLinkSerializer(FastModelSerializer):
    """Link rows of a symptom. The contract's bodies call the note `notes`, the reference
    `relevance_note`: both are read, both are returned."""

    serializer_choice_field = LenientChoiceField

    def to_internal_value(self, data):
        if isinstance(data, QueryDict):
            data = data.dict()
        if isinstance(data, dict):
            data = dict(data)
            if "relevance_note" not in data and "notes" in data:
                data["relevance_note"] = data["notes"]
            if "relevance_note" in data and data["relevance_note"] is None:
                data["relevance_note"] = ""
        return super().to_internal_value(data)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "relevance_note" in data:
            data["notes"] = data["relevance_note"]
        return data


class TreatmentLinkSummarySerializer(FastModelSerializer):
    class Meta:
        model = Treatment
        fields = ["id", "treatment_name", "treatment_type", "status", "start_date", "end_date"]
        read_only_fields = fields


def symptom_links(model, child: str, summary, label: str, extra=()) -> LinkFamily:
    return LinkFamily(
        model=model,
        parent="symptom",
        child=child,
        child_summary=summary,
        extra_fields=(*extra, "relevance_note"),
        delete_message=f"Symptom {label} relationship deleted successfully",
        serializer_base=SymptomLinkSerializer,
    )


SYMPTOM_CONDITIONS = symptom_links(
    SymptomCondition, "condition", ConditionSummarySerializer, "condition"
)
SYMPTOM_MEDICATIONS = symptom_links(
    SymptomMedication,
    "medication",
    MedicationSummarySerializer,
    "medication",
    extra=("relationship_type",),
)
SYMPTOM_TREATMENTS = symptom_links(
    SymptomTreatment, "treatment", TreatmentLinkSummarySerializer, "treatment"
)

# The contract lists through /symptoms/{id}/<x>s and links and unlinks through
# /symptoms/{id}/link-<x> and /symptoms/{id}/unlink-<x>/{x_id}.
LINK_PATTERNS = [
    link_urlpatterns(
        family,
        list_paths=(f"symptoms/<int:parent_id>/{family.child}s",),
        create_paths=(f"symptoms/<int:parent_id>/link-{family.child}",),
        unlink_paths=(f"symptoms/<int:parent_id>/unlink-{family.child}/<int:child_id>",),
        tag="symptoms",
    )
    for family in (SYMPTOM_CONDITIONS, SYMPTOM_MEDICATIONS, SYMPTOM_TREATMENTS)
]


# --- the symptom viewset --------------------------------------------------------------------


@record_viewset_schema
@extend_schema(tags=["symptoms"])
class SymptomViewSet(PatientOwnedViewSet):
    # Explicit order: Meta.ordering does not apply to a grouped (annotated) query.
    queryset = Symptom.objects.annotate(occurrence_count=Count("occurrences")).order_by(
        "-created_at", "-id"
    )
    serializer_class = SymptomSerializer
    filterset_class = SymptomFilterSet
    delete_status = 200

    def _patient_rows(self, model):
        """The target patient's rows of `model` (403/404 for a patient the user cannot see)."""
        return model.objects.for_patient(self.target_patient_id()).visible_to(self.request.user)

    @extend_schema(parameters=[PATIENT_ID_PARAM], responses=SymptomStatsSerializer)
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def stats(self, request):
        """Counts of the active (or given) patient's symptoms and occurrences, and the
        symptom with the most occurrences."""
        symptoms = self._patient_rows(Symptom).order_by()
        counts = symptoms.aggregate(
            total=Count("id"),
            active=Count("id", filter=Q(status=SymptomStatus.ACTIVE)),
            inactive=Count("id", filter=Q(status=SymptomStatus.INACTIVE)),
            resolved=Count("id", filter=Q(status=SymptomStatus.RESOLVED)),
            chronic=Count("id", filter=Q(is_chronic=True)),
        )
        occurrences = self._patient_rows(SymptomOccurrence).order_by()
        since = timezone.localdate() - timedelta(days=RECENT_DAYS)
        occurrence_counts = occurrences.aggregate(
            total=Count("id"), recent=Count("id", filter=Q(occurrence_date__gte=since))
        )
        top = (
            occurrences.values("symptom_id", "symptom__symptom_name")
            .annotate(n=Count("id"))
            .order_by("-n", "symptom__symptom_name", "symptom_id")
            .first()
        )
        body = {
            "patient_id": self.target_patient_id(),
            "total_symptoms": counts["total"],
            "active_symptoms": counts["active"],
            "inactive_symptoms": counts["inactive"],
            "resolved_symptoms": counts["resolved"],
            "chronic_symptoms": counts["chronic"],
            "total_occurrences": occurrence_counts["total"],
            "recent_occurrences": occurrence_counts["recent"],
            "most_frequent_symptom": top["symptom__symptom_name"] if top else None,
            "most_frequent_symptom_id": top["symptom_id"] if top else None,
            "most_frequent_count": top["n"] if top else None,
        }
        return Response(SymptomStatsSerializer(body).data)

    @extend_schema(
        parameters=[
            PATIENT_ID_PARAM,
            OpenApiParameter("start_date", OpenApiTypes.DATE, description="From this day."),
            OpenApiParameter("end_date", OpenApiTypes.DATE, description="Up to this day."),
        ],
        responses=TimelinePointSerializer(many=True),
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def timeline(self, request):
        """The occurrences of the active (or given) patient's symptoms, oldest first, each
        with its symptom's name and status."""
        params = TimelineParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        occurrences = self._patient_rows(SymptomOccurrence).select_related("symptom")
        if start := params.validated_data.get("start_date"):
            occurrences = occurrences.filter(occurrence_date__gte=start)
        if end := params.validated_data.get("end_date"):
            occurrences = occurrences.filter(occurrence_date__lte=end)
        occurrences = occurrences.order_by("occurrence_date", "occurred_at", "id")
        return Response(TimelinePointSerializer(occurrences, many=True).data)


# --- occurrences ----------------------------------------------------------------------------


class OccurrenceTimeField(serializers.TimeField):
    """The local time of day of occurred_at (the web app's occurrence_time)."""

    def get_attribute(self, instance):
        moment = instance.occurred_at
        return timezone.localtime(moment).time() if moment is not None else None


class SymptomOccurrenceSerializer(PatientOwnedSerializer):
    """Under /symptoms/{symptom_id}/occurrences the symptom is the path's (a symptom_id in
    the body is ignored there); on /symptom-occurrences symptom_id is required."""

    occurrence_time = OccurrenceTimeField(
        required=False,
        allow_null=True,
        help_text="The time of day (facility time zone) on occurrence_date: the web app's "
        "way of giving occurred_at. Null clears it.",
    )
    triggers = text_list_field()
    relief_methods = text_list_field()
    associated_symptoms = text_list_field()
    symptom = SymptomSummarySerializer(read_only=True)

    class Meta:
        model = SymptomOccurrence
        fields = [
            *BASE_FIELDS,
            "symptom_id",
            "occurrence_date",
            "occurred_at",
            "occurrence_time",
            "severity",
            "pain_scale",
            "duration_minutes",
            "duration",
            "time_of_day",
            "location",
            "impact_level",
            "triggers",
            "relief_methods",
            "associated_symptoms",
            "resolved_date",
            "resolved_time",
            "resolution_notes",
            "notes",
            "symptom",
            *TIMESTAMP_FIELDS,
        ]
        extra_kwargs = {
            "symptom_id": {"required": False},
            "occurrence_date": {
                "required": False,
                "help_text": "Taken from occurred_at (facility time zone) when left out.",
            },
        }

    def _nested(self) -> bool:
        return isinstance(self.context.get("view"), NestedRecordMixin)

    def to_internal_value(self, data):
        if self._nested():
            self.context["view"].parent_record()  # 404 for an unknown symptom comes first
            if hasattr(data, "keys") and "symptom_id" in data:
                data = data.copy()
                data.pop("symptom_id")
        return super().to_internal_value(data)

    def validate(self, attrs):
        for name in SymptomOccurrence.LIST_FIELDS:
            if name in attrs and attrs[name] is None:
                attrs[name] = []
        if "occurrence_time" in attrs:
            at = attrs.pop("occurrence_time")
            day = attrs.get("occurrence_date") or getattr(self.instance, "occurrence_date", None)
            if "occurred_at" not in attrs and (at is None or day is not None):
                attrs["occurred_at"] = (
                    None if at is None else timezone.make_aware(datetime.combine(day, at))
                )
        moment = attrs.get("occurred_at")
        if isinstance(moment, datetime) and "occurrence_date" not in attrs:
            attrs["occurrence_date"] = local_date(moment)
        if self.instance is None:
            errors = {}
            if attrs.get("symptom") is None and not self._nested():
                errors["symptom_id"] = ["This field is required."]
            if attrs.get("occurrence_date") is None:
                errors["occurrence_date"] = ["Give occurrence_date or occurred_at."]
            if errors:
                raise serializers.ValidationError(errors)
        elif "occurrence_date" in attrs and "occurred_at" not in attrs:
            # Moving the episode to another day keeps its time of day.
            old = self.instance.occurred_at
            day = attrs["occurrence_date"]
            if old is not None and day is not None and local_date(old) != day:
                attrs["occurred_at"] = timezone.make_aware(
                    datetime.combine(day, timezone.localtime(old).time())
                )
        return super().validate(attrs)


class SymptomOccurrenceFilterSet(PatientOwnedFilterSet):
    search_fields = ("notes", "location", "symptom__symptom_name")

    symptom_id = django_filters.NumberFilter(
        field_name="symptom_id", min_value=1, max_value=MAX_ID, decimal_places=0
    )
    severity = LenientChoiceFilter(field_name="severity")
    time_of_day = LenientChoiceFilter(field_name="time_of_day")
    impact_level = LenientChoiceFilter(field_name="impact_level")
    start_date = django_filters.DateFilter(field_name="occurrence_date", lookup_expr="gte")
    end_date = django_filters.DateFilter(field_name="occurrence_date", lookup_expr="lte")

    class Meta:
        model = SymptomOccurrence
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["symptoms"])
class SymptomOccurrenceViewSet(PatientOwnedViewSet):
    queryset = SymptomOccurrence.objects.select_related("symptom")
    serializer_class = SymptomOccurrenceSerializer
    filterset_class = SymptomOccurrenceFilterSet
    delete_status = 200


urlpatterns = [pattern for patterns in LINK_PATTERNS for pattern in patterns]


def register(router, nested, register_record):
    register_record(router, nested, "symptoms", SymptomViewSet, "symptom")
    register_record(
        router, nested, "symptom-occurrences", SymptomOccurrenceViewSet, "symptom-occurrence"
    )
    register_nested_record(
        router, "symptoms", "occurrences", SymptomOccurrenceViewSet, parent_field="symptom"
    )
