"""Immunizations: CRUD plus /immunizations/patient/{patient_id}/upcoming and …/history.

A record may link to the vaccine catalogue (records/models/vaccine_catalogue.py): clients send
`standardized_vaccine_who_code` and get back `standardized_vaccine_id` and the code.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.representation import FastSerializer
from patients.core.filtersets import LenientChoiceFilter, TaggedFilterSet
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    PatientOwnedSerializer,
    tags_field,
)
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from patients.models import validate_past_date
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    PractitionerSummarySerializer,
)
from records.models import Immunization, StandardizedVaccine, VaccineMatcher


class VaccineCodeField(serializers.CharField):
    """Shows the linked entry's WHO code; takes a code that the serializer resolves."""

    def get_attribute(self, instance):
        vaccine = instance.standardized_vaccine
        return vaccine.who_code if vaccine is not None else None


class ImmunizationSerializer(PatientOwnedSerializer):
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
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
    tags = tags_field()
    standardized_vaccine_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The linked vaccine catalogue entry."
    )
    standardized_vaccine_who_code = VaccineCodeField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="WHO code of the catalogue entry picked in the form. A known code links the "
        "record to it; an unknown one is ignored (the link stays as it was); null or an empty "
        "text removes the link.",
    )

    class Meta:
        model = Immunization
        fields = [
            *BASE_FIELDS,
            "vaccine_name",
            "vaccine_trade_name",
            "date_administered",
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
            "standardized_vaccine_id",
            "standardized_vaccine_who_code",
            *PRACTITIONER_FIELDS,
            *TIMESTAMP_FIELDS,
        ]

    def validate(self, attrs):
        if "standardized_vaccine_who_code" in attrs:
            code = attrs.pop("standardized_vaccine_who_code")
            if not code:
                attrs["standardized_vaccine"] = None
            else:
                vaccine = StandardizedVaccine.objects.active().by_who_code(code)
                if vaccine is not None:
                    attrs["standardized_vaccine"] = vaccine
        return super().validate(attrs)


class ImmunizationHistoryItemSerializer(ImmunizationSerializer):
    """An immunization with the diseases its vaccine covers (set by the history view)."""

    components = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Diseases covered (empty when no catalogue entry matches).",
    )
    is_combined = serializers.BooleanField(read_only=True)
    is_library_matched = serializers.BooleanField(
        read_only=True,
        help_text="Matched to a catalogue entry, by its link or else by name.",
    )

    class Meta(ImmunizationSerializer.Meta):
        fields = [
            *ImmunizationSerializer.Meta.fields,
            "components",
            "is_combined",
            "is_library_matched",
        ]


class ImmunizationHistorySerializer(FastSerializer):
    items = ImmunizationHistoryItemSerializer(many=True)
    diseases_index = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Each disease → the ids of the immunizations covering it.",
    )
    unmatched_count = serializers.IntegerField(
        help_text="Immunizations that match no catalogue entry."
    )


class HistoryParams(FastSerializer):
    start_date = serializers.DateField(
        required=False, help_text="Only doses given on or after this date."
    )
    end_date = serializers.DateField(
        required=False, help_text="Only doses given on or before this date."
    )

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and start > end:
            raise serializers.ValidationError({"end_date": ["end_date is before start_date."]})
        return attrs


class ImmunizationFilterSet(TaggedFilterSet):
    search_fields = ("vaccine_name", "vaccine_trade_name", "manufacturer", "lot_number")

    route = LenientChoiceFilter(field_name="route")

    class Meta:
        model = Immunization
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["immunizations"])
class ImmunizationViewSet(PatientOwnedViewSet):
    queryset = Immunization.objects.select_related("standardized_vaccine", PRACTITIONER_JOIN)
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

    @extend_schema(parameters=[HistoryParams], responses=ImmunizationHistorySerializer)
    @action(
        detail=False,
        methods=["get"],
        url_path=r"patient/(?P<patient_id>[0-9]+)/history",
        pagination_class=None,
    )
    def history(self, request, patient_id):
        """One patient's immunizations (latest first), each with the diseases its vaccine
        covers, so that a combined vaccine (DTaP …) shows under each of its diseases.

        A record matches its linked catalogue entry, else an entry by name (see
        VaccineMatcher). The catalogue is read once; matching happens in memory. Matches by
        name are not written back: reading never changes records.
        """
        queryset = self.get_queryset()  # the patient check (403/404) comes first
        params = HistoryParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        if start := params.validated_data.get("start_date"):
            queryset = queryset.filter(date_administered__gte=start)
        if end := params.validated_data.get("end_date"):
            queryset = queryset.filter(date_administered__lte=end)
        rows = list(queryset.order_by("-date_administered", "-id"))
        matcher = VaccineMatcher.from_catalogue()
        diseases: dict[str, list[int]] = {}
        for row in rows:
            vaccine = matcher.match(row)
            row.is_library_matched = vaccine is not None
            row.components = list(vaccine.components) if vaccine else []
            row.is_combined = bool(vaccine and vaccine.is_combined)
            for disease in row.components:
                diseases.setdefault(disease, []).append(row.pk)
        items = ImmunizationHistoryItemSerializer(
            rows, many=True, context=self.get_serializer_context()
        ).data
        unmatched = sum(1 for row in rows if not row.is_library_matched)
        return Response({"items": items, "diseases_index": diseases, "unmatched_count": unmatched})


def register(router, nested, register_record):
    register_record(router, nested, "immunizations", ImmunizationViewSet, "immunization")
