"""Insurances (/insurances) and emergency contacts (/emergency-contacts)."""

from datetime import timedelta

import django_filters
from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from medikeep.api.representation import FastSerializer
from patients.choices import RecordAction
from patients.core.filtersets import PatientOwnedFilterSet
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    PatientOwnedSerializer,
    model_snapshot,
)
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.models import (
    EmergencyContact,
    EmergencyContactRelationship,
    Insurance,
    InsuranceRelationshipToHolder,
    InsuranceStatus,
    InsuranceType,
)


class CodeChoiceField(serializers.ChoiceField):
    """A choice matched without case or surrounding spaces: "Spouse" is "spouse"."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().lower()
        return super().to_internal_value(data)


def change_fields(view, instance, fields: dict) -> Response:
    """An update of `fields` through the view's serializer and perform_update: the same
    validation, transaction, primary demotion and activity log as a PUT."""
    serializer = view.get_serializer(instance, data=fields, partial=True)
    serializer.is_valid(raise_exception=True)
    view.perform_update(serializer)
    return Response(view.get_serializer(serializer.instance).data)


class LogsPrimaryDemotions(PatientOwnedViewSet):
    """The model demotes the previous primary row when another becomes primary (so every
    path keeps the one-primary rule); through the API that demotion is the user's change
    too, so it goes into the activity log beside the promoted row."""

    def perform_create(self, serializer):
        patient_id = serializer.validated_data.get("patient_id")
        self._logging_demotions(
            patient_id, lambda: super(LogsPrimaryDemotions, self).perform_create(serializer)
        )

    def perform_update(self, serializer):
        patient_id = serializer.instance.patient_id
        self._logging_demotions(
            patient_id, lambda: super(LogsPrimaryDemotions, self).perform_update(serializer)
        )

    def _logging_demotions(self, patient_id, save) -> None:
        model = self.queryset.model
        with transaction.atomic():
            primaries = model.objects.filter(patient_id=patient_id, is_primary=True)
            before = {row.pk: (row, model_snapshot(row)) for row in primaries}
            save()
            demoted = model.objects.filter(pk__in=before, is_primary=False)
            for row in demoted:
                self._announce(RecordAction.UPDATED, row, before[row.pk][1], model_snapshot(row))


# --- insurances -----------------------------------------------------------------------------

# The contract's example sends the rank ("primary") as insurance_type; the type list is
# medical/dental/vision/prescription. A rank there means a medical plan of that rank.
RANK_AS_TYPE = {"primary": True, "secondary": False}


class InsuranceSerializer(PatientOwnedSerializer):
    # The contract names the insurer provider_name, the reference company_name.
    field_aliases = {"provider_name": "company_name"}

    insurance_type = CodeChoiceField(choices=InsuranceType.choices)
    status = CodeChoiceField(choices=InsuranceStatus.choices, required=False)
    relationship_to_holder = CodeChoiceField(
        choices=InsuranceRelationshipToHolder.choices, required=False, allow_blank=True
    )
    coverage_details = serializers.DictField(required=False, allow_null=True)
    contact_info = serializers.DictField(required=False, allow_null=True)

    class Meta:
        model = Insurance
        fields = [
            *BASE_FIELDS,
            "insurance_type",
            "company_name",
            "employer_group",
            "member_name",
            "member_id",
            "group_number",
            "policy_number",
            "plan_name",
            "policy_holder_name",
            "relationship_to_holder",
            "effective_date",
            "expiration_date",
            "status",
            "is_primary",
            "coverage_details",
            "contact_info",
            "notes",
            *TIMESTAMP_FIELDS,
        ]

    def to_internal_value(self, data):
        rank = data.get("insurance_type") if hasattr(data, "get") else None
        if isinstance(rank, str) and rank.strip().lower() in RANK_AS_TYPE:
            data = data.copy()
            data["insurance_type"] = InsuranceType.MEDICAL
            data.setdefault("is_primary", RANK_AS_TYPE[rank.strip().lower()])
        return super().to_internal_value(data)


class InsuranceStatusSerializer(FastSerializer):
    status = CodeChoiceField(choices=InsuranceStatus.choices)


class ExpiringParams(FastSerializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=30)


class CompanySearchParams(FastSerializer):
    company = serializers.CharField(min_length=1, max_length=255)


class InsuranceFilterSet(PatientOwnedFilterSet):
    search_fields = ("company_name", "plan_name", "member_name", "member_id", "policy_number")

    insurance_type = django_filters.CharFilter(method="filter_code")
    status = django_filters.CharFilter(method="filter_code")
    is_primary = django_filters.BooleanFilter(field_name="is_primary")
    active_only = django_filters.BooleanFilter(
        method="filter_active_only", help_text="Only insurances with status active."
    )

    class Meta:
        model = Insurance
        fields: list = []

    def filter_code(self, queryset, name, value):
        return queryset.filter(**{name: value.strip().lower()})

    def filter_active_only(self, queryset, name, value):
        return queryset.filter(status=InsuranceStatus.ACTIVE) if value else queryset


@record_viewset_schema
@extend_schema(tags=["insurances"])
class InsuranceViewSet(LogsPrimaryDemotions):
    queryset = Insurance.objects.all()
    serializer_class = InsuranceSerializer
    filterset_class = InsuranceFilterSet
    delete_status = 200
    max_limit = 1000

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "days", OpenApiTypes.INT, description="Days ahead (1-365, default 30)."
            ),
            OpenApiParameter("patient_id", OpenApiTypes.INT),
        ],
        responses=InsuranceSerializer(many=True),
    )
    @action(detail=False, methods=["get"])
    def expiring(self, request):
        """Active insurances whose expiration date falls within `days` from today (or has
        passed while the plan is still marked active), soonest first."""
        params = ExpiringParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        horizon = timezone.localdate() + timedelta(days=params.validated_data["days"])
        queryset = self.get_queryset().filter(
            status=InsuranceStatus.ACTIVE,
            expiration_date__isnull=False,
            expiration_date__lte=horizon,
        )
        return self.list_of(queryset.order_by("expiration_date", "id"))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "company",
                OpenApiTypes.STR,
                required=True,
                description="Part of the company name.",
            ),
            OpenApiParameter("patient_id", OpenApiTypes.INT),
        ],
        responses=InsuranceSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="search")
    def search_by_company(self, request):
        """Insurances of the patient whose company name contains `company`."""
        params = CompanySearchParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = self.get_queryset().filter(
            company_name__icontains=params.validated_data["company"]
        )
        return self.list_of(queryset.order_by("company_name", "id"))

    @extend_schema(request=InsuranceStatusSerializer, responses=InsuranceSerializer)
    @action(detail=True, methods=["patch"], url_path="status")
    def set_status(self, request, pk=None):
        """Changes only the status."""
        instance = self.get_object()
        body = InsuranceStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return change_fields(self, instance, {"status": body.validated_data["status"]})

    @extend_schema(request=None, responses=InsuranceSerializer)
    @action(detail=True, methods=["patch"], url_path="set-primary")
    def set_primary(self, request, pk=None):
        """Makes this the primary insurance of its type; the previous one is demoted."""
        return change_fields(self, self.get_object(), {"is_primary": True})


# --- emergency contacts ---------------------------------------------------------------------


class EmergencyContactSerializer(PatientOwnedSerializer):
    relationship = CodeChoiceField(choices=EmergencyContactRelationship.choices)

    class Meta:
        model = EmergencyContact
        fields = [
            *BASE_FIELDS,
            "name",
            "relationship",
            "phone_number",
            "secondary_phone",
            "email",
            "address",
            "is_primary",
            "is_active",
            "notes",
            *TIMESTAMP_FIELDS,
        ]


class EmergencyContactFilterSet(PatientOwnedFilterSet):
    search_fields = ("name", "phone_number", "secondary_phone", "email")

    relationship = django_filters.CharFilter(method="filter_relationship")
    is_active = django_filters.BooleanFilter(field_name="is_active")
    is_primary = django_filters.BooleanFilter(field_name="is_primary")

    class Meta:
        model = EmergencyContact
        fields: list = []

    def filter_relationship(self, queryset, name, value):
        return queryset.filter(relationship=value.strip().lower())


@record_viewset_schema
@extend_schema(tags=["emergency-contacts"])
class EmergencyContactViewSet(LogsPrimaryDemotions):
    queryset = EmergencyContact.objects.all()
    serializer_class = EmergencyContactSerializer
    filterset_class = EmergencyContactFilterSet
    delete_status = 200

    @extend_schema(responses=EmergencyContactSerializer)
    @action(
        detail=False,
        methods=["get"],
        url_path=r"patient/(?P<patient_id>[0-9]+)/primary",
        pagination_class=None,
        filterset_class=None,
    )
    def primary(self, request, patient_id):
        """The patient's primary contact, if it is active (404 otherwise)."""
        contact = self.get_queryset().filter(is_primary=True, is_active=True).first()
        if contact is None:
            raise NotFound("Primary emergency contact not found")
        return Response(self.get_serializer(contact).data)

    @extend_schema(request=None, responses=EmergencyContactSerializer)
    @action(detail=True, methods=["post"], url_path="set-primary")
    def set_primary(self, request, pk=None):
        """Makes this the patient's primary contact; the previous one is demoted.

        A write, so it needs EDIT access to the patient (403 with VIEW only).
        """
        return change_fields(self, self.get_object(), {"is_primary": True})


def register(router, nested, register_record):
    register_record(router, nested, "insurances", InsuranceViewSet, "insurance")
    register_record(
        router, nested, "emergency-contacts", EmergencyContactViewSet, "emergency-contact"
    )
