"""Treatments, medical equipment, and the treatment links.

- /treatments …: CRUD plus patient/{patient_id}/active and ongoing.
- /medical-equipment …: CRUD plus active and needing-service.
- Links (patients/core/links.py): treatment ⇄ medication (with per-plan overrides and computed
  effective values), ⇄ encounter, ⇄ lab result, ⇄ equipment, each under
  /treatments/{treatment_id}/<x>; and /medications/{medication_id}/treatments, the
  medication's side of treatment ⇄ medication.
"""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import QuerySet, prefetch_related_objects
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action

from patients.core.filtersets import LenientChoiceFilter, TaggedFilterSet
from patients.core.links import LinkFamily, link_urlpatterns
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    LenientChoiceField,
    PatientOwnedSerializer,
    tags_field,
)
from patients.core.views import PATIENT_ID_PARAM, PatientOwnedViewSet, record_viewset_schema
from records.api.encounters import EncounterSummarySerializer
from records.api.labs import LabResultSummarySerializer
from records.api.summaries import ConditionSummarySerializer
from records.models import (
    Condition,
    MedicalEquipment,
    MedicalEquipmentStatus,
    Medication,
    Treatment,
    TreatmentEncounter,
    TreatmentEquipment,
    TreatmentLabResult,
    TreatmentMedication,
    TreatmentStatus,
)
from records.models.treatments import ONGOING_TREATMENT_STATUSES, SERVICE_DUE_WITHIN_DAYS

MAX_ID = 2**62

# --- treatments -----------------------------------------------------------------------------


class TreatmentSerializer(PatientOwnedSerializer):
    tags = tags_field()
    condition = ConditionSummarySerializer(read_only=True)

    class Meta:
        model = Treatment
        fields = [
            *BASE_FIELDS,
            "treatment_name",
            "treatment_type",
            "treatment_category",
            "description",
            "start_date",
            "end_date",
            "frequency",
            "dosage",
            "status",
            "mode",
            "outcome",
            "location",
            "notes",
            "tags",
            "condition_id",
            "condition",
            *TIMESTAMP_FIELDS,
        ]
        extra_kwargs = {
            "start_date": {
                "help_text": "Only planned or on-hold treatments may start in the future "
                "(up to 10 years ahead)."
            },
        }


class TreatmentFilterSet(TaggedFilterSet):
    search_fields = ("treatment_name", "treatment_type", "description", "notes")

    condition_id = django_filters.NumberFilter(
        field_name="condition_id", min_value=1, max_value=MAX_ID, decimal_places=0
    )
    status = LenientChoiceFilter(field_name="status")
    mode = LenientChoiceFilter(field_name="mode")
    treatment_type = django_filters.CharFilter(field_name="treatment_type", lookup_expr="iexact")

    class Meta:
        model = Treatment
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["treatments"])
class TreatmentViewSet(PatientOwnedViewSet):
    queryset = Treatment.objects.select_related("condition")
    serializer_class = TreatmentSerializer
    filterset_class = TreatmentFilterSet
    delete_status = 200

    @extend_schema(responses=TreatmentSerializer(many=True))
    @action(detail=False, methods=["get"], url_path=r"patient/(?P<patient_id>[0-9]+)/active")
    def active_for_patient(self, request, patient_id):
        """Active treatments of one patient."""
        return self.list_of(self.get_queryset().filter(status=TreatmentStatus.ACTIVE))

    @extend_schema(parameters=[PATIENT_ID_PARAM], responses=TreatmentSerializer(many=True))
    @action(detail=False, methods=["get"])
    def ongoing(self, request):
        """Treatments under way (active or in progress) of the active (or given) patient."""
        return self.list_of(self.get_queryset().filter(status__in=ONGOING_TREATMENT_STATUSES))


# --- medical equipment ----------------------------------------------------------------------


class MedicalEquipmentSerializer(PatientOwnedSerializer):
    # The reference calls the name equipment_name; some of its clients send name.
    field_aliases = {"name": "equipment_name"}
    required_on_create = ("equipment_name",)

    equipment_name = serializers.CharField(
        max_length=200, min_length=2, required=False, help_text="Required on create (or name)."
    )
    name = serializers.CharField(
        source="equipment_name",
        max_length=200,
        min_length=2,
        required=False,
        help_text="Another name of equipment_name.",
    )
    tags = tags_field()

    class Meta:
        model = MedicalEquipment
        fields = [
            *BASE_FIELDS,
            "equipment_name",
            "name",
            "equipment_type",
            "manufacturer",
            "model_number",
            "serial_number",
            "prescribed_date",
            "last_service_date",
            "next_service_date",
            "status",
            "usage_instructions",
            "supplier",
            "notes",
            "tags",
            *TIMESTAMP_FIELDS,
        ]


class MedicalEquipmentSummarySerializer(serializers.ModelSerializer):
    """The device as shown inside treatment links."""

    class Meta:
        model = MedicalEquipment
        fields = [
            "id",
            "equipment_name",
            "equipment_type",
            "status",
            "prescribed_date",
            "next_service_date",
        ]
        read_only_fields = fields


class MedicalEquipmentFilterSet(TaggedFilterSet):
    search_fields = ("equipment_name", "equipment_type", "manufacturer", "model_number")

    status = LenientChoiceFilter(field_name="status")
    equipment_type = django_filters.CharFilter(field_name="equipment_type", lookup_expr="iexact")

    class Meta:
        model = MedicalEquipment
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["medical-equipment"])
class MedicalEquipmentViewSet(PatientOwnedViewSet):
    queryset = MedicalEquipment.objects.all()
    serializer_class = MedicalEquipmentSerializer
    filterset_class = MedicalEquipmentFilterSet
    delete_status = 200

    @extend_schema(parameters=[PATIENT_ID_PARAM], responses=MedicalEquipmentSerializer(many=True))
    @action(detail=False, methods=["get"])
    def active(self, request):
        """Equipment in use by the active (or given) patient, by name."""
        queryset = self.get_queryset().filter(status=MedicalEquipmentStatus.ACTIVE)
        return self.list_of(queryset.order_by("equipment_name", "id"))

    @extend_schema(parameters=[PATIENT_ID_PARAM], responses=MedicalEquipmentSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="needing-service")
    def needing_service(self, request):
        """Equipment in use whose next service is overdue or due within 30 days, soonest
        first."""
        due_by = timezone.localdate() + timedelta(days=SERVICE_DUE_WITHIN_DAYS)
        queryset = self.get_queryset().filter(
            status=MedicalEquipmentStatus.ACTIVE, next_service_date__lte=due_by
        )
        return self.list_of(queryset.order_by("next_service_date", "id"))


# --- links ----------------------------------------------------------------------------------


class LinkSerializerBase(serializers.ModelSerializer):
    # Base of the treatment link serializers (a comment: the schema would show a docstring as
    # every link's description). Choices are read as elsewhere in the API ("Follow-Up" is
    # follow_up), and null for an optional text is read as empty, as the reference's clients
    # send it.

    serializer_choice_field = LenientChoiceField

    def to_internal_value(self, data):
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            data = {
                name: ""
                if value is None
                and name in self.fields
                and getattr(self.fields[name], "allow_blank", False)
                and not self.fields[name].allow_null
                else value
                for name, value in data.items()
            }
        return super().to_internal_value(data)


class PrescriberShapeSerializer(serializers.Serializer):
    """The prescriber as it will be shown once practitioners exist."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    specialty = serializers.CharField(allow_null=True)


class PharmacyShapeSerializer(serializers.Serializer):
    """The pharmacy as it will be shown once pharmacies exist."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    brand = serializers.CharField(allow_null=True)


EFFECTIVE_FIELDS = (
    "effective_dosage",
    "effective_frequency",
    "effective_start_date",
    "effective_end_date",
    "effective_prescriber",
    "effective_pharmacy",
)


class TreatmentMedicationLinkBase(LinkSerializerBase):
    """A medication of the treatment plan, with the plan's overrides and the effective values:
    the override when set, else the medication's own."""

    # Computed from the link and its medication, which the mechanism loads with the link.

    effective_dosage = serializers.SerializerMethodField()
    effective_frequency = serializers.SerializerMethodField()
    effective_start_date = serializers.SerializerMethodField()
    effective_end_date = serializers.SerializerMethodField(
        help_text="specific_end_date; else the medication's end, but null (ongoing) when the "
        "plan sets a start after that end."
    )
    effective_prescriber = serializers.SerializerMethodField(
        help_text="Null until practitioners exist."
    )
    effective_pharmacy = serializers.SerializerMethodField(help_text="Null until pharmacies exist.")

    def get_field_names(self, declared_fields, info):
        names = list(super().get_field_names(declared_fields, info))
        at = names.index("created_at") if "created_at" in names else len(names)
        return [*names[:at], *EFFECTIVE_FIELDS, *names[at:]]

    def get_effective_dosage(self, link) -> str:
        return link.effective_dosage

    def get_effective_frequency(self, link) -> str:
        return link.effective_frequency

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_effective_start_date(self, link):
        return link.effective_start_date

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_effective_end_date(self, link):
        return link.effective_end_date

    # Both become the override, else the medication's own, with the practitioner and
    # pharmacy directories (specific_prescriber_id / specific_pharmacy_id go on the link).
    @extend_schema_field(PrescriberShapeSerializer(allow_null=True))
    def get_effective_prescriber(self, link):
        return None

    @extend_schema_field(PharmacyShapeSerializer(allow_null=True))
    def get_effective_pharmacy(self, link):
        return None


class MedicationTreatmentLinkBase(LinkSerializerBase):
    """A treatment plan that uses the medication, with the plan's overrides."""

    # Each treatment shows its condition, loaded for all rows at once (the mechanism itself
    # loads only the treatment).

    @classmethod
    def many_init(cls, *args, **kwargs):
        if args:
            args = (_with_treatment_conditions(args[0]), *args[1:])
        return super().many_init(*args, **kwargs)


def _with_treatment_conditions(links):
    if isinstance(links, QuerySet):
        return links.select_related("treatment__condition")
    if links is not None:
        links = list(links)
        prefetch_related_objects(links, "treatment__condition")
    return links


class TreatmentMedicationSummarySerializer(serializers.ModelSerializer):
    """The medication as shown in a treatment plan."""

    # practitioner and pharmacy join these with their directories.
    class Meta:
        model = Medication
        fields = [
            "id",
            "medication_name",
            "dosage",
            "frequency",
            "route",
            "status",
            "effective_period_start",
            "effective_period_end",
        ]
        read_only_fields = fields


class TreatmentConditionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = ["id", "condition_name"]
        read_only_fields = fields


class TreatmentSummarySerializer(serializers.ModelSerializer):
    """The treatment as shown from the medication's side, with its condition."""

    condition = TreatmentConditionSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Treatment
        fields = [
            "id",
            "treatment_name",
            "treatment_type",
            "status",
            "mode",
            "start_date",
            "end_date",
            "condition",
        ]
        read_only_fields = fields


MEDICATION_OVERRIDES = (
    "specific_dosage",
    "specific_frequency",
    "specific_duration",
    "timing_instructions",
    "relevance_note",
    # specific_prescriber_id and specific_pharmacy_id join these with their directories.
    "specific_start_date",
    "specific_end_date",
)

TREATMENT_MEDICATIONS = LinkFamily(
    model=TreatmentMedication,
    parent="treatment",
    child="medication",
    child_summary=TreatmentMedicationSummarySerializer,
    extra_fields=MEDICATION_OVERRIDES,
    delete_message="Medication link removed",
    serializer_base=TreatmentMedicationLinkBase,
)
MEDICATION_TREATMENTS = LinkFamily(
    model=TreatmentMedication,
    parent="medication",
    child="treatment",
    child_summary=TreatmentSummarySerializer,
    extra_fields=MEDICATION_OVERRIDES,
    delete_message="Medication link removed",
    serializer_base=MedicationTreatmentLinkBase,
)
TREATMENT_ENCOUNTERS = LinkFamily(
    model=TreatmentEncounter,
    parent="treatment",
    child="encounter",
    child_summary=EncounterSummarySerializer,
    extra_fields=("visit_label", "visit_sequence", "relevance_note"),
    delete_message="Encounter link removed",
    serializer_base=LinkSerializerBase,
)
TREATMENT_LAB_RESULTS = LinkFamily(
    model=TreatmentLabResult,
    parent="treatment",
    child="lab_result",
    child_summary=LabResultSummarySerializer,
    extra_fields=("purpose", "expected_frequency", "relevance_note"),
    delete_message="Lab result link removed",
    serializer_base=LinkSerializerBase,
)
TREATMENT_EQUIPMENT = LinkFamily(
    model=TreatmentEquipment,
    parent="treatment",
    child="equipment",
    child_summary=MedicalEquipmentSummarySerializer,
    extra_fields=("usage_frequency", "specific_settings", "relevance_note"),
    delete_message="Equipment link removed",
    serializer_base=LinkSerializerBase,
)

urlpatterns = (
    link_urlpatterns(
        TREATMENT_MEDICATIONS, base="treatments/<int:parent_id>/medications", tag="treatments"
    )
    + link_urlpatterns(
        TREATMENT_ENCOUNTERS, base="treatments/<int:parent_id>/encounters", tag="treatments"
    )
    + link_urlpatterns(
        TREATMENT_LAB_RESULTS, base="treatments/<int:parent_id>/lab-results", tag="treatments"
    )
    + link_urlpatterns(
        TREATMENT_EQUIPMENT, base="treatments/<int:parent_id>/equipment", tag="treatments"
    )
    + link_urlpatterns(
        MEDICATION_TREATMENTS,
        list_paths=("medications/<int:parent_id>/treatments",),
        tag="medications",
    )
)


def register(router, nested, register_record):
    register_record(router, nested, "treatments", TreatmentViewSet, "treatment")
    register_record(
        router, nested, "medical-equipment", MedicalEquipmentViewSet, "medical-equipment"
    )
