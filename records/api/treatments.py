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
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from medikeep.api.representation import FastModelSerializer
from patients.core.filtersets import LenientChoiceFilter, TaggedFilterSet
from patients.core.links import LinkFamily, link_urlpatterns
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    LenientModelSerializer,
    PatientBriefSerializer,
    PatientOwnedSerializer,
    tags_field,
)
from patients.core.views import PATIENT_ID_PARAM, PatientOwnedViewSet, record_viewset_schema
from records.api.encounters import EncounterSummarySerializer
from records.api.labs import LabResultSummarySerializer
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    PRACTITIONER_PRACTICE_JOIN,
    ConditionSummarySerializer,
    PharmacySummarySerializer,
    PractitionerSummarySerializer,
    PractitionerWithPracticeSerializer,
)
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
    practitioner = PractitionerWithPracticeSerializer(read_only=True, allow_null=True)
    patient = PatientBriefSerializer(read_only=True)
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
            *PRACTITIONER_FIELDS,
            "patient",
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
    queryset = Treatment.objects.select_related(
        "patient", "condition", PRACTITIONER_JOIN, PRACTITIONER_PRACTICE_JOIN
    )
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
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    # The reference calls the name equipment_name; some of its clients send name.
    field_aliases = {"name": "equipment_name"}

    tags = tags_field()

    class Meta:
        model = MedicalEquipment
        fields = [
            *BASE_FIELDS,
            "equipment_name",
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
            *PRACTITIONER_FIELDS,
            *TIMESTAMP_FIELDS,
        ]


class MedicalEquipmentSummarySerializer(FastModelSerializer):
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
    queryset = MedicalEquipment.objects.select_related(PRACTITIONER_JOIN)
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


EFFECTIVE_FIELDS = (
    "effective_dosage",
    "effective_frequency",
    "effective_start_date",
    "effective_end_date",
    "effective_prescriber",
    "effective_pharmacy",
)


class MedicationOverridesBase(LenientModelSerializer):
    """A treatment plan's link to a medication, with the plan's own overrides."""

    # The prescriber and pharmacy overrides are written as specific_*_id and shown as
    # summaries right after the override dates.
    specific_prescriber = PractitionerSummarySerializer(read_only=True, allow_null=True)
    specific_pharmacy = PharmacySummarySerializer(read_only=True, allow_null=True)

    def get_field_names(self, declared_fields, info):
        names = list(super().get_field_names(declared_fields, info))
        at = names.index("specific_end_date") + 1
        return [*names[:at], "specific_prescriber", "specific_pharmacy", *names[at:]]


class TreatmentMedicationLinkBase(MedicationOverridesBase):
    """A medication of the treatment plan, with the plan's overrides and the effective values:
    the override when set, else the medication's own."""

    # Computed from the link and its medication, which the family loads with the link.

    effective_dosage = serializers.CharField(read_only=True)
    effective_frequency = serializers.CharField(read_only=True)
    effective_start_date = serializers.DateField(read_only=True, allow_null=True)
    effective_end_date = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text="specific_end_date; else the medication's end, but null (ongoing) when the "
        "plan sets a start after that end.",
    )
    effective_prescriber = PractitionerSummarySerializer(read_only=True, allow_null=True)
    effective_pharmacy = PharmacySummarySerializer(read_only=True, allow_null=True)

    def get_field_names(self, declared_fields, info):
        names = list(super().get_field_names(declared_fields, info))
        at = names.index("created_at") if "created_at" in names else len(names)
        return [*names[:at], *EFFECTIVE_FIELDS, *names[at:]]


class TreatmentMedicationSummarySerializer(FastModelSerializer):
    """The medication as shown in a treatment plan."""

    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    pharmacy = PharmacySummarySerializer(read_only=True, allow_null=True)

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
            "practitioner",
            "pharmacy",
        ]
        read_only_fields = fields


class TreatmentConditionSerializer(FastModelSerializer):
    class Meta:
        model = Condition
        fields = ["id", "condition_name"]
        read_only_fields = fields


class TreatmentSummarySerializer(FastModelSerializer):
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
    "specific_prescriber_id",
    "specific_pharmacy_id",
    "specific_start_date",
    "specific_end_date",
)
# The directory entries a medication link shows, joined with the links (no query per row).
OVERRIDE_JOINS = ("specific_prescriber__specialty", "specific_pharmacy")

TREATMENT_MEDICATIONS = LinkFamily(
    model=TreatmentMedication,
    parent="treatment",
    child="medication",
    child_summary=TreatmentMedicationSummarySerializer,
    extra_fields=MEDICATION_OVERRIDES,
    delete_message="Medication link removed",
    serializer_base=TreatmentMedicationLinkBase,
    create_status=200,  # as the contract's section says (the other links answer 201)
    select_related=(*OVERRIDE_JOINS, "medication__practitioner__specialty", "medication__pharmacy"),
)
MEDICATION_TREATMENTS = LinkFamily(
    model=TreatmentMedication,
    parent="medication",
    child="treatment",
    child_summary=TreatmentSummarySerializer,
    extra_fields=MEDICATION_OVERRIDES,
    delete_message="Medication link removed",
    serializer_base=MedicationOverridesBase,
    select_related=(*OVERRIDE_JOINS, "treatment__condition"),
)
TREATMENT_ENCOUNTERS = LinkFamily(
    model=TreatmentEncounter,
    parent="treatment",
    child="encounter",
    child_summary=EncounterSummarySerializer,
    extra_fields=("visit_label", "visit_sequence", "relevance_note"),
    delete_message="Encounter link removed",
)
TREATMENT_LAB_RESULTS = LinkFamily(
    model=TreatmentLabResult,
    parent="treatment",
    child="lab_result",
    child_summary=LabResultSummarySerializer,
    extra_fields=("purpose", "expected_frequency", "relevance_note"),
    delete_message="Lab result link removed",
)
TREATMENT_EQUIPMENT = LinkFamily(
    model=TreatmentEquipment,
    parent="treatment",
    child="equipment",
    child_summary=MedicalEquipmentSummarySerializer,
    extra_fields=("usage_frequency", "specific_settings", "relevance_note"),
    delete_message="Equipment link removed",
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
