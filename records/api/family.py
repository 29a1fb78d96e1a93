"""Family history: family members and their conditions.

- /family-members …: CRUD (filter relationship), /family-members/dropdown and
  /family-members/search/?name=.
- /family-conditions …: CRUD of every family condition (the generic record routes), and the
  contract's /family-members/{family_member_id}/conditions[/{id}], where the path names the
  family member.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.representation import FastModelSerializer, FastSerializer
from patients.choices import PatientGender
from patients.core.filtersets import LenientChoiceFilter, PatientOwnedFilterSet
from patients.core.routing import register_nested_record
from patients.core.serializers import BASE_FIELDS, TIMESTAMP_FIELDS, PatientOwnedSerializer
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.models import FamilyCondition, FamilyMember

MAX_ID = 2**62

GENDERS = {
    "m": PatientGender.MALE,
    "male": PatientGender.MALE,
    "f": PatientGender.FEMALE,
    "female": PatientGender.FEMALE,
    "other": PatientGender.OTHER,
    "u": PatientGender.UNKNOWN,
    "unknown": PatientGender.UNKNOWN,
}


class FamilyGenderField(serializers.ChoiceField):
    """male, female, other or unknown; M, F, U and any letter case are read too."""

    def __init__(self, **kwargs):
        super().__init__(
            choices=PatientGender.choices,
            allow_blank=True,
            help_text="male, female, other or unknown (M, F, U accepted).",
            **kwargs,
        )

    def to_internal_value(self, data):
        if isinstance(data, str):
            text = data.strip().lower()
            if not text:
                return ""
            if text in GENDERS:
                return str(GENDERS[text])
        self.fail("invalid_choice", input=str(data)[:50])


# --- family conditions ----------------------------------------------------------------------


class FamilyMemberBriefSerializer(FastModelSerializer):
    class Meta:
        model = FamilyMember
        fields = ["id", "name", "relationship"]
        read_only_fields = fields


FAMILY_CONDITION_FIELDS = [
    "condition_name",
    "condition_type",
    "diagnosis_age",
    "severity",
    "status",
    "icd10_code",
    "notes",
]


class FamilyConditionSerializer(PatientOwnedSerializer):
    family_member = FamilyMemberBriefSerializer(read_only=True)

    class Meta:
        model = FamilyCondition
        fields = [
            *BASE_FIELDS,
            "family_member_id",
            *FAMILY_CONDITION_FIELDS,
            "family_member",
            *TIMESTAMP_FIELDS,
        ]
        # Not required under /family-members/{id}/conditions, where the path names it.
        extra_kwargs = {"family_member_id": {"required": False}}

    def validate(self, attrs):
        implied = getattr(self.context["view"], "implied_values", dict)()
        if implied:  # on the nested path the family member is the one in the path
            attrs.pop("family_member", None)
        elif self.instance is None and attrs.get("family_member") is None:
            raise serializers.ValidationError({"family_member_id": ["This field is required."]})
        return super().validate(attrs)


class FamilyConditionInMemberSerializer(FastModelSerializer):
    """A condition as listed inside its family member."""

    family_member_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = FamilyCondition
        fields = ["id", "family_member_id", *FAMILY_CONDITION_FIELDS, *TIMESTAMP_FIELDS]
        read_only_fields = fields


class FamilyConditionFilterSet(PatientOwnedFilterSet):
    search_fields = ("condition_name", "notes")

    family_member_id = django_filters.NumberFilter(
        field_name="family_member_id", min_value=1, max_value=MAX_ID, decimal_places=0
    )
    condition_type = LenientChoiceFilter(field_name="condition_type")
    severity = LenientChoiceFilter(field_name="severity")
    status = LenientChoiceFilter(field_name="status")

    class Meta:
        model = FamilyCondition
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["family-members"])
class FamilyConditionViewSet(PatientOwnedViewSet):
    queryset = FamilyCondition.objects.select_related("family_member")
    serializer_class = FamilyConditionSerializer
    filterset_class = FamilyConditionFilterSet
    delete_status = 200

    def destroy(self, request, *args, **kwargs):
        response = super().destroy(request, *args, **kwargs)
        # The contract's wording; the base would say "Family condition …".
        response.data = {"message": "Family Condition deleted successfully"}
        return response


# --- family members -------------------------------------------------------------------------


class FamilyMemberSerializer(PatientOwnedSerializer):
    gender = FamilyGenderField(required=False)
    death_age = serializers.IntegerField(read_only=True, allow_null=True)
    family_conditions = FamilyConditionInMemberSerializer(many=True, read_only=True)

    class Meta:
        model = FamilyMember
        fields = [
            *BASE_FIELDS,
            "name",
            "relationship",
            "gender",
            "birth_date",
            "birth_year",
            "is_deceased",
            "death_date",
            "death_year",
            "death_age",
            "medical_history",
            "notes",
            "family_conditions",
            *TIMESTAMP_FIELDS,
        ]

    def validate(self, attrs):
        for date_name, year_name in (("birth_date", "birth_year"), ("death_date", "death_year")):
            day, year = attrs.get(date_name), attrs.get(year_name)
            if day and year and day.year != year:
                raise serializers.ValidationError(
                    {year_name: [f"The year does not match {date_name} ({day.isoformat()})."]}
                )
            kept = getattr(self.instance, date_name, None)
            if year_name in attrs and date_name not in attrs and kept and kept.year != year:
                attrs[date_name] = None  # a new year alone replaces the date it contradicts
        if "is_deceased" not in attrs and (attrs.get("death_date") or attrs.get("death_year")):
            attrs["is_deceased"] = True
        return super().validate(attrs)


class FamilyMemberDropdownSerializer(FastModelSerializer):
    class Meta:
        model = FamilyMember
        fields = ["id", "name", "relationship"]
        read_only_fields = fields


class FamilyMemberSearchParams(FastSerializer):
    name = serializers.CharField(min_length=2, max_length=100)


class FamilyMemberFilterSet(PatientOwnedFilterSet):
    search_fields = ("name", "medical_history", "notes")

    relationship = LenientChoiceFilter(field_name="relationship")
    is_deceased = django_filters.BooleanFilter(field_name="is_deceased")

    class Meta:
        model = FamilyMember
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["family-members"])
class FamilyMemberViewSet(PatientOwnedViewSet):
    queryset = FamilyMember.objects.prefetch_related("family_conditions")
    serializer_class = FamilyMemberSerializer
    filterset_class = FamilyMemberFilterSet
    delete_status = 200

    def destroy(self, request, *args, **kwargs):
        response = super().destroy(request, *args, **kwargs)
        # The contract's wording; the base would say "Family member …".
        response.data = {"message": "Family Member deleted successfully"}
        return response

    @extend_schema(
        parameters=[OpenApiParameter("patient_id", OpenApiTypes.INT)],
        responses=FamilyMemberDropdownSerializer(many=True),
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def dropdown(self, request):
        """Family members of the active (or given) patient for a form's select box."""
        queryset = self.filter_queryset(self.get_queryset()).order_by("name", "id")
        return Response(FamilyMemberDropdownSerializer(queryset, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "name", OpenApiTypes.STR, required=True, description="Part of the name (2+)."
            ),
            OpenApiParameter("patient_id", OpenApiTypes.INT),
        ],
        responses=FamilyMemberSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="search", filterset_class=None)
    def search_by_name(self, request):
        """Family members of the active (or given) patient whose name contains `name`."""
        params = FamilyMemberSearchParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = self.get_queryset().filter(name__icontains=params.validated_data["name"])
        return self.list_of(queryset.order_by("name", "id"))


def register(router, nested, register_record):
    register_record(router, nested, "family-members", FamilyMemberViewSet, "family-member")
    register_record(router, nested, "family-conditions", FamilyConditionViewSet, "family-condition")
    register_nested_record(
        router,
        "family-members",
        "conditions",
        FamilyConditionViewSet,
        parent_field="family_member",
    )
