"""Injuries, the injury-type catalogue, and the injury links.

- /injuries …: CRUD (filters status, injury_type_id, tags) and /injuries/patient/{id}/active.
- /injury-types …: the global catalogue: list, dropdown, create, read, delete.
- /injuries/{injury_id}/medications|conditions|treatments|procedures: the links, through
  patients/core/links.py. The contract addresses one link by the linked record's id
  (DELETE /injuries/{injury_id}/medications/{medication_id}), not by the link's id.
"""

from __future__ import annotations

import django_filters
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from medikeep.api.exceptions import BusinessRuleError
from medikeep.api.representation import FastModelSerializer
from medikeep.api.serializers import MessageSerializer
from medikeep.api.views import ApiViewSet
from patients.core.filtersets import LenientChoiceFilter, TaggedFilterSet
from patients.core.links import LinkFamily, link_urlpatterns
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    PatientOwnedSerializer,
    clean_through_model,
    tags_field,
)
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    ConditionSummarySerializer,
    MedicationSummarySerializer,
    PractitionerSummarySerializer,
)
from records.models import (
    Injury,
    InjuryCondition,
    InjuryMedication,
    InjuryProcedure,
    InjuryStatus,
    InjuryTreatment,
    InjuryType,
    Procedure,
    Treatment,
)
from records.reference import may_change_entry

MAX_ID = 2**62

# --- injury types ---------------------------------------------------------------------------


class InjuryTypeSerializer(FastModelSerializer):
    name = serializers.CharField(min_length=2, max_length=100)
    description = serializers.CharField(
        max_length=300, required=False, allow_blank=True, allow_null=True
    )

    class Meta:
        model = InjuryType
        fields = ["id", "name", "description", "is_system", "created_at", "updated_at"]
        read_only_fields = ["id", "is_system", "created_at", "updated_at"]

    def validate_name(self, value):
        # The contract answers a taken name with 400 (not the directory's 409).
        if InjuryType.objects.filter(name__iexact=value).exists():
            raise BusinessRuleError(f'An injury type named "{value}" already exists.')
        return value

    def validate_description(self, value):
        return value or ""

    def validate(self, attrs):
        # The model's rules; uniqueness was checked above (400, not 422).
        return clean_through_model(
            InjuryType, None, attrs, exclude=["created_by"], uniqueness=False
        )


class InjuryTypeDropdownSerializer(FastModelSerializer):
    class Meta:
        model = InjuryType
        fields = ["id", "name", "is_system"]
        read_only_fields = fields


@extend_schema_view(destroy=extend_schema(responses=MessageSerializer))
@extend_schema(tags=["injury-types"])
class InjuryTypeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """The global injury-type catalogue: readable by every signed-in user. Any user may add
    a type; only its creator or an admin may delete it, never a system type and never a
    type an injury uses."""

    queryset = InjuryType.objects.all()
    serializer_class = InjuryTypeSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = None  # a small catalogue: always listed whole
    filter_backends: list = []
    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "post", "delete", "head", "options"]

    @extend_schema(responses=InjuryTypeDropdownSerializer(many=True))
    @action(detail=False, methods=["get"])
    def dropdown(self, request):
        """Injury types for a form's select box (id, name, is_system)."""
        rows = self.get_queryset().only("id", "name", "is_system")
        return Response(InjuryTypeDropdownSerializer(rows, many=True).data)

    def perform_create(self, serializer):
        try:
            with transaction.atomic():
                serializer.save(created_by=self.request.user, is_system=False)
        except IntegrityError as exc:  # the same name created concurrently
            raise BusinessRuleError("An injury type with this name already exists.") from exc

    def destroy(self, request, *args, **kwargs):
        injury_type = self.get_object()
        if injury_type.is_system:
            raise BusinessRuleError("System injury types cannot be deleted.")
        if not may_change_entry(request.user, injury_type):
            raise PermissionDenied(
                "Only the user who created this injury type or an admin may delete it."
            )
        if injury_type.injuries.exists():
            raise BusinessRuleError("This injury type is used by injuries and cannot be deleted.")
        injury_type.delete()
        return Response({"message": "Injury type deleted successfully"})


# --- injuries -------------------------------------------------------------------------------


class InjuryTypeSummarySerializer(FastModelSerializer):
    class Meta:
        model = InjuryType
        fields = ["id", "name", "description", "is_system", "created_at", "updated_at"]
        read_only_fields = fields


class InjurySerializer(PatientOwnedSerializer):
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    tags = tags_field()
    injury_type = InjuryTypeSummarySerializer(read_only=True)

    class Meta:
        model = Injury
        fields = [
            *BASE_FIELDS,
            "injury_name",
            "injury_type_id",
            "injury_type",
            "body_part",
            "laterality",
            "date_of_injury",
            "mechanism",
            "severity",
            "status",
            "treatment_received",
            "recovery_notes",
            "notes",
            "tags",
            *PRACTITIONER_FIELDS,
            *TIMESTAMP_FIELDS,
        ]


class InjuryFilterSet(TaggedFilterSet):
    search_fields = ("injury_name", "body_part", "mechanism")

    status = LenientChoiceFilter(field_name="status")
    severity = LenientChoiceFilter(field_name="severity")
    laterality = LenientChoiceFilter(field_name="laterality")
    injury_type_id = django_filters.NumberFilter(
        field_name="injury_type_id", min_value=1, max_value=MAX_ID, decimal_places=0
    )

    class Meta:
        model = Injury
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["injuries"])
class InjuryViewSet(PatientOwnedViewSet):
    queryset = Injury.objects.select_related("injury_type", PRACTITIONER_JOIN)
    serializer_class = InjurySerializer
    filterset_class = InjuryFilterSet
    delete_status = 200

    @extend_schema(responses=InjurySerializer(many=True))
    @action(detail=False, methods=["get"], url_path=r"patient/(?P<patient_id>[0-9]+)/active")
    def active_for_patient(self, request, patient_id):
        """Active injuries of one patient."""
        return self.list_of(self.get_queryset().filter(status=InjuryStatus.ACTIVE))


# --- links ----------------------------------------------------------------------------------


class TreatmentBriefSerializer(FastModelSerializer):
    class Meta:
        model = Treatment
        fields = ["id", "treatment_name", "treatment_type", "status", "start_date", "end_date"]
        read_only_fields = fields


class ProcedureBriefSerializer(FastModelSerializer):
    class Meta:
        model = Procedure
        fields = ["id", "procedure_name", "procedure_type", "procedure_date", "status"]
        read_only_fields = fields


def _family(model, child: str, summary, label: str) -> LinkFamily:
    return LinkFamily(
        model=model,
        parent="injury",
        child=child,
        child_summary=summary,
        extra_fields=("relevance_note",),
        delete_message=f"{label} unlinked from injury",
    )


INJURY_MEDICATIONS = _family(
    InjuryMedication, "medication", MedicationSummarySerializer, "Medication"
)
INJURY_CONDITIONS = _family(InjuryCondition, "condition", ConditionSummarySerializer, "Condition")
INJURY_TREATMENTS = _family(InjuryTreatment, "treatment", TreatmentBriefSerializer, "Treatment")
INJURY_PROCEDURES = _family(InjuryProcedure, "procedure", ProcedureBriefSerializer, "Procedure")


def injury_link_urlpatterns(family: LinkFamily, segment: str) -> list:
    """The link routes under /injuries/{id}/<segment>; the contract addresses one link by
    the linked record's id."""
    base = f"injuries/<int:parent_id>/{segment}"
    return link_urlpatterns(family, base=base, item_by_child=True, tag="injuries")


urlpatterns = (
    injury_link_urlpatterns(INJURY_MEDICATIONS, "medications")
    + injury_link_urlpatterns(INJURY_CONDITIONS, "conditions")
    + injury_link_urlpatterns(INJURY_TREATMENTS, "treatments")
    + injury_link_urlpatterns(INJURY_PROCEDURES, "procedures")
)


def register(router, nested, register_record):
    register_record(router, nested, "injuries", InjuryViewSet, "injury")
    router.register("injury-types", InjuryTypeViewSet, basename="injury-type")
