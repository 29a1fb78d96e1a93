"""Allergies: CRUD plus /allergies/patient/{patient_id}/active, /critical and /check/{allergen}."""

from __future__ import annotations

import django_filters
from django.db.models import Case, F, IntegerField, Value, When
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.exceptions import FieldValidationError
from medikeep.api.representation import FastSerializer
from patients.core.filtersets import LenientChoiceFilter, TaggedFilterSet
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    PatientOwnedSerializer,
    tags_field,
)
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api.summaries import MedicationSummarySerializer
from records.models import CRITICAL_SEVERITIES, Allergy, AllergyStatus

# --- allergies ----------------------------------------------------------------------------------

MAX_ALLERGEN_LENGTH = Allergy._meta.get_field("allergen").max_length


class AllergySerializer(PatientOwnedSerializer):
    # The contract's example sends the onset as "diagnosed_date".
    field_aliases = {"diagnosed_date": "onset_date"}

    tags = tags_field()
    medication = MedicationSummarySerializer(read_only=True)

    class Meta:
        model = Allergy
        fields = [
            *BASE_FIELDS,
            "allergen",
            "severity",
            "reaction",
            "onset_date",
            "status",
            "notes",
            "tags",
            "medication_id",
            "medication",
            *TIMESTAMP_FIELDS,
        ]


class AllergyCheckSerializer(FastSerializer):
    patient_id = serializers.IntegerField()
    allergen = serializers.CharField()
    has_allergy = serializers.BooleanField()
    matches = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the matching active allergies."
    )


class AllergyFilterSet(TaggedFilterSet):
    search_fields = ("allergen", "reaction", "notes")

    allergen = django_filters.CharFilter(
        field_name="allergen", lookup_expr="icontains", help_text="Part of the allergen's name."
    )
    severity = LenientChoiceFilter(field_name="severity")
    status = LenientChoiceFilter(field_name="status")

    class Meta:
        model = Allergy
        fields: list = []


ALLERGEN_PARAM = OpenApiParameter(
    "allergen",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The allergen to look for (case-insensitive, part of the name is enough).",
)


@record_viewset_schema
@extend_schema(tags=["allergies"])
class AllergyViewSet(PatientOwnedViewSet):
    queryset = Allergy.objects.select_related("medication")
    serializer_class = AllergySerializer
    filterset_class = AllergyFilterSet
    delete_status = 200

    def _active(self):
        return self.get_queryset().filter(status=AllergyStatus.ACTIVE)

    @action(detail=False, methods=["get"], url_path=r"patient/(?P<patient_id>[0-9]+)/active")
    def active_for_patient(self, request, patient_id):
        """Active allergies of one patient."""
        return self.list_of(self._active())

    @action(detail=False, methods=["get"], url_path=r"patient/(?P<patient_id>[0-9]+)/critical")
    def critical_for_patient(self, request, patient_id):
        """Active severe and life-threatening allergies of one patient, most dangerous first,
        then by onset (latest first)."""
        rank = Case(
            *(When(severity=s, then=Value(i)) for i, s in enumerate(CRITICAL_SEVERITIES)),
            output_field=IntegerField(),
        )
        queryset = (
            self._active()
            .filter(severity__in=CRITICAL_SEVERITIES)
            .order_by(rank, F("onset_date").desc(nulls_last=True), "-id")
        )
        return self.list_of(queryset)

    @extend_schema(parameters=[ALLERGEN_PARAM], responses=AllergyCheckSerializer)
    @action(
        detail=False,
        methods=["get"],
        url_path=r"patient/(?P<patient_id>[0-9]+)/check/(?P<allergen>[^/]+)",
        pagination_class=None,
    )
    def check_allergen(self, request, patient_id, allergen):
        """Whether the patient has an active allergy whose allergen contains the given text
        (case-insensitive), with the ids of those allergies."""
        wanted = allergen.strip()
        if not 2 <= len(wanted) <= MAX_ALLERGEN_LENGTH:
            raise FieldValidationError(
                "allergen", f"Give 2 to {MAX_ALLERGEN_LENGTH} characters of an allergen's name."
            )
        matches = list(
            self._active()
            .filter(allergen__icontains=wanted)
            .order_by("id")
            .values_list("id", flat=True)
        )
        return Response(
            {
                "patient_id": self.target_patient_id(),
                "allergen": wanted,
                "has_allergy": bool(matches),
                "matches": matches,
            }
        )


def register(router, nested, register_record):
    register_record(router, nested, "allergies", AllergyViewSet, "allergy")
