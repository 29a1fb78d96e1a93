"""The shared directory: /practitioners, /medical-specialties, /practices, /pharmacies.

Reference data, not patient records (records/reference.py): everyone signed in reads;
anyone signed in adds; the user who added an entry, or an admin, changes or deletes it
(DirectoryViewSet). Medical specialties are changed and deleted by admins only, and their
quick-create is rate-limited per user.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError
from django.db.models.functions import Lower
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from medikeep.api.exceptions import ConflictError, FieldValidationError
from medikeep.api.representation import FastModelSerializer
from medikeep.api.throttles import ScopedRateThrottle
from patients.core.serializers import LenientModelSerializer, clean_through_model
from records.api.reference_base import DirectoryViewSet
from records.models import MedicalSpecialty, Pharmacy, Practice, Practitioner, normalise_url

urlpatterns: list = []

MAX_ID = 2**62  # ids past this are refused (422) rather than overflow the database driver


# --- shared bases ---------------------------------------------------------------------------


class WebAddressField(serializers.CharField):
    """A web address as people type it: "www.cvs.com" is read as "https://www.cvs.com"."""

    def to_internal_value(self, data):
        return normalise_url(super().to_internal_value(data))


class DirectoryEntrySerializer(LenientModelSerializer):
    # Validates through the model (`full_clean`), so the API and the admin share rules.
    # Uniqueness is checked by the serializers themselves (a clash is a 409, not a 422).
    # (Comments, not a docstring: the schema would show it on every directory component.)

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_name in getattr(self.Meta.model, "url_fields", ()):
            field_class = WebAddressField
        return field_class, kwargs

    def validate(self, attrs):
        # clean() normalises (stripped text, https:// in front of web addresses): keep it.
        return clean_through_model(
            self.Meta.model,
            self.instance,
            super().validate(attrs),
            exclude=["created_by"],
            uniqueness=False,
        )

    def check_name_is_free(self, attrs, message: str) -> None:
        """409 when another entry of the model has this name, ignoring case."""
        name = attrs.get("name")
        if not name:
            return
        clash = self.Meta.model.objects.filter(name__iexact=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise ConflictError(message)


class DirectoryBase(DirectoryViewSet):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "An entry with the same name (or identifier) already exists."}
    # DirectoryViewSet with the contract's list and write conventions. Each subclass has a
    # docstring of its own: the schema shows it as the description of its operations.

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    default_limit = 100
    max_limit = 100
    conflict_message = "An entry with this name already exists."
    throttle_scope: str | None = None  # "standard"; the search paths use "search"

    def update(self, request, *args, **kwargs):
        # PUT applies the fields sent, as the reference does: clients send partial bodies.
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    # A uniqueness race lost between the serializer's check and the insert is still a 409.
    def perform_create(self, serializer):
        try:
            super().perform_create(serializer)
        except IntegrityError as exc:
            raise ConflictError(self.conflict_message) from exc

    def perform_update(self, serializer):
        try:
            super().perform_update(serializer)
        except IntegrityError as exc:
            raise ConflictError(self.conflict_message) from exc

    def list_of(self, queryset, serializer_class=None):
        """A list response for a narrowed queryset (extra list actions), filtered and paged."""
        queryset = self.filter_queryset(queryset)
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else queryset
        serializer_class = serializer_class or self.get_serializer_class()
        data = serializer_class(rows, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data) if page is not None else Response(data)


def search_term(request, name: str, *, min_length: int) -> str:
    """A required text query parameter; missing or too short is a 422."""
    value = (request.query_params.get(name) or "").strip()
    if len(value) < min_length:
        raise FieldValidationError(name, f"Give at least {min_length} character(s) to search for.")
    if len(value) > 200:
        raise FieldValidationError(name, "Give at most 200 characters to search for.")
    return value


def name_param(min_length: int) -> OpenApiParameter:
    return OpenApiParameter(
        "name",
        OpenApiTypes.STR,
        required=True,
        description=f"Part of the name, at least {min_length} character(s), case-insensitive.",
    )


# --- medical specialties --------------------------------------------------------------------

SPECIALTY_CREATE_SCOPE = "specialty_create"
SPECIALTY_CREATE_RATE = "20/hour"


class SpecialtyCreateThrottle(ScopedRateThrottle):
    """20 POSTs to /medical-specialties per hour per user (a fixed scope of its own).

    Every POST counts — one that finds an existing specialty (200) or is refused (422) too:
    the budget is checked before the request is read, like the reference's limiter, so a
    client cannot probe or spam it for free. Other methods pass; the standard throttle
    still applies to them and to POSTs.
    """

    def scope_and_rate(self, request, view):
        if request.method != "POST":
            return None
        return SPECIALTY_CREATE_SCOPE, SPECIALTY_CREATE_RATE


class SpecialtyPermission(BasePermission):
    """Anyone signed in reads and quick-creates; only admins update, deactivate or delete
    (a specialty is shared by every practitioner filed under it)."""

    message = "Only an admin may change or delete a medical specialty."

    def has_permission(self, request, view):
        return (
            request.method in SAFE_METHODS
            or request.method == "POST"
            or getattr(request.user, "is_admin", False)
        )

    def has_object_permission(self, request, view, obj):
        return self.has_permission(request, view)


class MedicalSpecialtySerializer(DirectoryEntrySerializer):
    class Meta:
        model = MedicalSpecialty
        fields = ["id", "name", "category", "description", "is_active"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None:  # a create finds the existing row instead (200)
            self.check_name_is_free(attrs, "A medical specialty with this name already exists.")
        return attrs


class SpecialtyFilterSet(django_filters.FilterSet):
    include_inactive = django_filters.BooleanFilter(
        method="filter_include_inactive",
        help_text="Admins only: also list deactivated specialties.",
    )

    class Meta:
        model = MedicalSpecialty
        fields: list = []

    def filter_include_inactive(self, queryset, name, value):
        return queryset  # applied in the viewset, which knows who asks


@extend_schema(tags=["medical-specialties"])
class MedicalSpecialtyViewSet(DirectoryBase):
    """Medical specialties: everyone signed in lists the active ones and quick-creates (at
    most 20 POSTs per hour per user); only admins update, deactivate or delete them."""

    queryset = MedicalSpecialty.objects.all()
    serializer_class = MedicalSpecialtySerializer
    filterset_class = SpecialtyFilterSet
    permission_classes = [IsAuthenticated, SpecialtyPermission]
    throttle_classes = [ScopedRateThrottle, SpecialtyCreateThrottle]
    pagination_class = None  # the whole (short) list feeds a dropdown
    conflict_message = "A medical specialty with this name already exists."

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            wants_all = self.request.query_params.get("include_inactive") in ("true", "1", "True")
            if not (wants_all and getattr(self.request.user, "is_admin", False)):
                queryset = queryset.filter(is_active=True)
        return queryset

    @extend_schema(
        responses={200: MedicalSpecialtySerializer, 201: MedicalSpecialtySerializer},
        description=(
            "Adds a specialty, or answers the existing one whose name matches ignoring case "
            "(200). At most 20 POSTs per hour per user (429 with Retry-After)."
        ),
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not getattr(request.user, "is_admin", False):
            serializer.validated_data.pop("is_active", None)  # users add active specialties
        name = serializer.validated_data["name"]
        existing = MedicalSpecialty.objects.filter(name__iexact=name).first()
        if existing is None:
            try:
                with transaction.atomic():
                    self.perform_create(serializer)
            except ConflictError:  # created meanwhile by someone else
                existing = MedicalSpecialty.objects.filter(name__iexact=name).first()
                if existing is None:
                    raise
            else:
                return Response(serializer.data, status=status.HTTP_201_CREATED)
        return Response(self.get_serializer(existing).data, status=status.HTTP_200_OK)

    def perform_destroy(self, instance):
        try:
            super().perform_destroy(instance)
        except ProtectedError as exc:
            count = len(exc.protected_objects)
            raise ConflictError(
                f"{count} practitioner(s) have this specialty, so it cannot be deleted; "
                "deactivate it instead."
            ) from exc


# --- practices ------------------------------------------------------------------------------


class PracticeSerializer(DirectoryEntrySerializer):
    locations = serializers.JSONField(required=False)
    practitioner_count = serializers.SerializerMethodField()

    class Meta:
        model = Practice
        fields = [
            "id",
            "name",
            "phone_number",
            "fax_number",
            "website",
            "patient_portal_url",
            "notes",
            "locations",
            "created_at",
            "updated_at",
            "practitioner_count",
        ]

    def to_internal_value(self, data):
        if isinstance(data, dict) and data.get("locations", "") is None:
            data = {**data, "locations": []}
        return super().to_internal_value(data)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        self.check_name_is_free(attrs, "A practice with this name already exists.")
        return attrs

    @extend_schema_field(OpenApiTypes.INT)
    def get_practitioner_count(self, practice) -> int:
        count = getattr(practice, "practitioner_count", None)
        return practice.practitioners.count() if count is None else count


class PracticeSummarySerializer(FastModelSerializer):
    practitioner_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Practice
        fields = ["id", "name", "practitioner_count"]


class PracticeFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", help_text="Part of the practice's name."
    )

    class Meta:
        model = Practice
        fields: list = []


@extend_schema(tags=["practices"])
class PracticeViewSet(DirectoryBase):
    """Practices (clinics): everyone signed in reads and adds; the user who added one, or an
    admin, changes or deletes it. Names are unique regardless of case (409)."""

    # Meta.ordering does not apply to a grouped query: order explicitly.
    queryset = Practice.objects.annotate(practitioner_count=Count("practitioners")).order_by(
        Lower("name"), "id"
    )
    serializer_class = PracticeSerializer
    filterset_class = PracticeFilterSet
    conflict_message = "A practice with this name already exists."

    @extend_schema(responses={200: PracticeSerializer})
    def create(self, request, *args, **kwargs):
        """Adds a practice and answers it with 200 (not 201)."""
        response = super().create(request, *args, **kwargs)
        response.status_code = status.HTTP_200_OK
        return response

    @extend_schema(responses=PracticeSummarySerializer(many=True), filters=False)
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def summary(self, request):
        """Every practice with its number of practitioners, for dropdowns (one query)."""
        queryset = self.get_queryset()
        return Response(PracticeSummarySerializer(queryset, many=True).data)

    @extend_schema(parameters=[name_param(1)], responses=PracticeSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="search/by-name", throttle_scope="search")
    def search_by_name(self, request):
        """Practices whose name contains the text."""
        term = search_term(request, "name", min_length=1)
        return self.list_of(self.get_queryset().filter(name__icontains=term))


# --- practitioners --------------------------------------------------------------------------


class PractitionerSerializer(DirectoryEntrySerializer):
    specialty_id = serializers.PrimaryKeyRelatedField(
        source="specialty", queryset=MedicalSpecialty.objects.all()
    )
    specialty = serializers.CharField(
        source="specialty.name", read_only=True, help_text="The specialty's name."
    )
    specialty_name = serializers.CharField(
        source="specialty.name", read_only=True, help_text="The specialty's name (alias)."
    )
    practice_id = serializers.PrimaryKeyRelatedField(
        source="practice", queryset=Practice.objects.all(), required=False, allow_null=True
    )
    practice_name = serializers.CharField(source="practice.name", read_only=True, allow_null=True)
    # The reference's free-text practice: resolved to the practice of that name (ignoring
    # case), created when there is none. practice_id wins when both are sent.
    practice = serializers.CharField(
        source="legacy_practice",
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=150,
        help_text="Legacy: a practice name; the practice is found by name or created.",
    )

    class Meta:
        model = Practitioner
        fields = [
            "id",
            "name",
            "specialty_id",
            "specialty",
            "specialty_name",
            "practice_id",
            "practice_name",
            "practice",
            "phone_number",
            "email",
            "website",
            "rating",
            "created_at",
            "updated_at",
        ]

    new_practice_name: str | None = None

    def validate(self, attrs):
        legacy = (attrs.pop("legacy_practice", None) or "").strip()
        if legacy and "practice" not in attrs:
            found = Practice.objects.filter(name__iexact=legacy).first()
            if found is not None:
                attrs["practice"] = found
            else:
                try:
                    Practice(name=legacy).clean_fields(
                        exclude=[f.name for f in Practice._meta.fields if f.name != "name"]
                    )
                except DjangoValidationError as exc:
                    messages = exc.message_dict.get("name", exc.messages)
                    raise serializers.ValidationError({"practice": messages}) from exc
                self.new_practice_name = legacy
        return super().validate(attrs)

    def _attach_new_practice(self, validated_data) -> None:
        name = self.new_practice_name
        if not name:
            return
        practice = Practice.objects.filter(name__iexact=name).first()
        if practice is None:
            try:
                with transaction.atomic():
                    practice = Practice.objects.create(
                        name=name, created_by=self.context["request"].user
                    )
            except IntegrityError:  # added meanwhile by someone else
                practice = Practice.objects.get(name__iexact=name)
        validated_data["practice"] = practice

    def create(self, validated_data):
        self._attach_new_practice(validated_data)
        return super().create(validated_data)

    def update(self, instance, validated_data):
        self._attach_new_practice(validated_data)
        return super().update(instance, validated_data)


def id_filter(field_name: str, help_text: str) -> django_filters.NumberFilter:
    return django_filters.NumberFilter(
        field_name=field_name,
        min_value=1,
        max_value=MAX_ID,
        decimal_places=0,
        help_text=help_text,
    )


class PractitionerFilterSet(django_filters.FilterSet):
    specialty_id = id_filter("specialty_id", "Only practitioners of this specialty.")
    practice_id = id_filter("practice_id", "Only practitioners of this practice.")

    class Meta:
        model = Practitioner
        fields: list = []


@extend_schema(tags=["practitioners"])
class PractitionerViewSet(DirectoryBase):
    """Practitioners: everyone signed in reads and adds; the user who added one, or an admin,
    changes or deletes it."""

    queryset = Practitioner.objects.select_related("specialty", "practice")
    serializer_class = PractitionerSerializer
    filterset_class = PractitionerFilterSet

    @extend_schema(parameters=[name_param(2)], responses=PractitionerSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="search/by-name", throttle_scope="search")
    def search_by_name(self, request):
        """Practitioners whose name contains the text."""
        term = search_term(request, "name", min_length=2)
        return self.list_of(self.get_queryset().filter(name__icontains=term))


# --- pharmacies -----------------------------------------------------------------------------


class PharmacySerializer(DirectoryEntrySerializer):
    class Meta:
        model = Pharmacy
        fields = [
            "id",
            "name",
            "brand",
            "street_address",
            "city",
            "state",
            "zip_code",
            "country",
            "store_number",
            "phone_number",
            "fax_number",
            "email",
            "website",
            "hours",
            "drive_through",
            "twenty_four_hour",
            "specialty_services",
            "created_at",
            "updated_at",
        ]


@extend_schema(tags=["pharmacies"])
class PharmacyViewSet(DirectoryBase):
    """Pharmacies: everyone signed in reads and adds; the user who added one, or an admin,
    changes or deletes it."""

    queryset = Pharmacy.objects.all()
    serializer_class = PharmacySerializer
    max_limit = 1000  # the reference does not cap this list


def register(router, nested, register_record):
    router.register("practitioners", PractitionerViewSet, basename="practitioner")
    router.register("medical-specialties", MedicalSpecialtyViewSet, basename="medical-specialty")
    router.register("practices", PracticeViewSet, basename="practice")
    router.register("pharmacies", PharmacyViewSet, basename="pharmacy")
