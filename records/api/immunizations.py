"""Immunizations: CRUD plus /immunizations/patient/{patient_id}/upcoming."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from patients.core.filtersets import LenientChoiceFilter, TaggedFilterSet
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    PatientOwnedSerializer,
    tags_field,
)
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from patients.models import validate_past_date
from records.models import Immunization


class ImmunizationSerializer(PatientOwnedSerializer):
    # The contract's create example says "administration_date"; the record (and the history
    # view) "date_administered". Both are accepted and returned.
    field_aliases = {"administration_date": "date_administered"}
    required_on_create = ("date_administered",)

    date_administered = serializers.DateField(
        required=False,
        validators=[validate_past_date],
        help_text="When the dose was given (not in the future). Required on create, under "
        "this name or administration_date.",
    )
    administration_date = serializers.DateField(
        source="date_administered",
        required=False,
        validators=[validate_past_date],
        help_text="Another name of date_administered.",
    )
    tags = tags_field()

    # `standardized_vaccine_who_code` (create and update) is resolved to
    # standardized_vaccine_id here once the vaccine library exists: unknown codes are
    # ignored, null clears the link. Until then the field is ignored like any unknown one.

    class Meta:
        model = Immunization
        fields = [
            *BASE_FIELDS,
            "vaccine_name",
            "vaccine_trade_name",
            "date_administered",
            "administration_date",
            "dose_number",
            "lot_number",
            "ndc_number",
            "manufacturer",
            "site",
            "route",
            "expiration_date",
            "next_due_date",
            "location",
            "notes",
            "tags",
            *TIMESTAMP_FIELDS,
        ]


class ImmunizationFilterSet(TaggedFilterSet):
    search_fields = ("vaccine_name", "vaccine_trade_name", "manufacturer", "lot_number")

    route = LenientChoiceFilter(field_name="route")

    class Meta:
        model = Immunization
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["immunizations"])
class ImmunizationViewSet(PatientOwnedViewSet):
    queryset = Immunization.objects.all()
    serializer_class = ImmunizationSerializer
    filterset_class = ImmunizationFilterSet
    delete_status = 200

    @action(detail=False, methods=["get"], url_path=r"patient/(?P<patient_id>[0-9]+)/upcoming")
    def upcoming_for_patient(self, request, patient_id):
        """Doses coming up for one patient: immunizations whose `next_due_date` is today or
        later, soonest first.

        There is no vaccine schedule yet, so "upcoming" is only what the user recorded as the
        next due date; records without one never appear. Once the vaccine library exists,
        schedule-based suggestions can be added here.
        """
        queryset = (
            self.get_queryset()
            .filter(next_due_date__gte=timezone.localdate())
            .order_by("next_due_date", "id")
        )
        return self.list_of(queryset)


def register(router, nested, register_record):
    register_record(router, nested, "immunizations", ImmunizationViewSet, "immunization")
