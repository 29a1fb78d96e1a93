"""Lab results, their test components, and the lab-result links.

- /lab-results …: CRUD plus the contract's by-code, by-practitioner, search and count paths.
- /lab-test-components …: CRUD, and the contract's paths under
  lab-result/{lab_result_id}/… and components/{component_id}.
- Links: encounter ⇄ lab result from both sides, lab result ⇄ condition.
"""

import django_filters
from django.db import transaction
from django.db.models import Count
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.representation import FastModelSerializer, FastSerializer
from patients.access import Level, require_patient_access
from patients.core.filtersets import PatientOwnedFilterSet, TaggedFilterSet
from patients.core.links import LinkFamily, link_urlpatterns
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    LenientChoiceField,
    PatientOwnedSerializer,
    match_choice,
)
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api.encounters import EncounterSummarySerializer
from records.api.lab_ocr import LabPdfMixin
from records.api.lab_trends import PatientComponentsMixin
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    ConditionSummarySerializer,
    PractitionerSummarySerializer,
)
from records.models import (
    EncounterLabResult,
    LabResult,
    LabResultCondition,
    LabResultStatus,
    LabTestComponent,
    LabTestComponentStatus,
)
from records.models.labs import ABNORMAL_STATUSES, normalise_code

MAX_BULK_COMPONENTS = 100
CODE = r"(?P<code>[^/]+)"


# --- lab results ----------------------------------------------------------------------------


class LabResultSerializer(PatientOwnedSerializer):
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    status = LenientChoiceField(
        choices=LabResultStatus.choices,
        required=False,
        help_text='Answered as the contract spells it ("in-progress"); any case and "-", "_" '
        "or spaces are read alike.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )

    class Meta:
        model = LabResult
        fields = [
            *BASE_FIELDS,
            "test_name",
            "test_code",
            "test_category",
            "test_type",
            "facility",
            "status",
            "labs_result",
            "ordered_date",
            "completed_date",
            "notes",
            "tags",
            *PRACTITIONER_FIELDS,
            *TIMESTAMP_FIELDS,
        ]


class LabResultSummarySerializer(FastModelSerializer):
    """The lab result as shown inside links and components."""

    class Meta:
        model = LabResult
        fields = [
            "id",
            "test_name",
            "test_code",
            "status",
            "labs_result",
            "ordered_date",
            "completed_date",
        ]
        read_only_fields = fields


class LabResultDeletedSerializer(FastSerializer):
    message = serializers.CharField()
    files_deleted = serializers.IntegerField()
    files_preserved = serializers.IntegerField()


class PatientCountSerializer(FastSerializer):
    patient_id = serializers.IntegerField()
    lab_result_count = serializers.IntegerField()


class PractitionerCountSerializer(FastSerializer):
    practitioner_id = serializers.IntegerField()
    lab_result_count = serializers.IntegerField()


class CodeCountSerializer(FastSerializer):
    code = serializers.CharField()
    usage_count = serializers.IntegerField()


class LabResultFilterSet(TaggedFilterSet):
    search_fields = ("test_name", "test_code", "facility", "notes")

    status = django_filters.CharFilter(method="filter_status")
    test_category = django_filters.CharFilter(field_name="test_category")
    test_type = django_filters.CharFilter(field_name="test_type")
    labs_result = django_filters.CharFilter(field_name="labs_result")
    test_code = django_filters.CharFilter(method="filter_test_code")
    completed_from = django_filters.DateFilter(field_name="completed_date", lookup_expr="gte")
    completed_to = django_filters.DateFilter(field_name="completed_date", lookup_expr="lte")

    class Meta:
        model = LabResult
        fields: list = []

    def filter_status(self, queryset, name, value):
        return queryset.filter(status=match_choice(value, LabResultStatus.values))

    def filter_test_code(self, queryset, name, value):
        return queryset.filter(test_code=normalise_code(value))


@record_viewset_schema
@extend_schema(tags=["lab-results"])
class LabResultViewSet(LabPdfMixin, PatientOwnedViewSet):
    queryset = LabResult.objects.select_related(PRACTITIONER_JOIN)
    serializer_class = LabResultSerializer
    filterset_class = LabResultFilterSet
    default_limit = 100
    max_limit = 1000
    delete_status = 200
    throttle_scope: str | None = None  # the search paths use "search"
    across_patients_actions = frozenset(
        {
            "by_practitioner",
            "practitioner_count",
            "search_code",
            "search_code_pattern",
            "code_count",
        }
    )

    @extend_schema(responses={200: LabResultDeletedSerializer})
    def destroy(self, request, *args, **kwargs):
        super().destroy(request, *args, **kwargs)
        # Attached files went to the trash with the record (restorable there until purged).
        return Response(
            {
                "message": "Lab result and associated files deleted successfully",
                "files_deleted": self.dependents_removed,
                "files_preserved": 0,
            }
        )

    @extend_schema(responses=LabResultSerializer(many=True))
    @action(
        detail=False,
        methods=["get"],
        url_path=rf"patient/(?P<patient_id>[0-9]+)/code/{CODE}",
    )
    def by_patient_and_code(self, request, patient_id, code):
        """One patient's lab results with this test code (case-insensitive)."""
        return self.list_of(self.get_queryset().filter(test_code=normalise_code(code)))

    @extend_schema(responses=LabResultSerializer(many=True))
    @action(detail=False, methods=["get"], url_path=r"practitioner/(?P<practitioner_id>[0-9]+)")
    def by_practitioner(self, request, practitioner_id):
        """Lab results the practitioner ordered, of every patient the caller may see."""
        return self.list_of(self.get_queryset().filter(practitioner_id=practitioner_id))

    @extend_schema(responses=LabResultSerializer(many=True))
    @action(detail=False, methods=["get"], url_path=rf"search/code/{CODE}", throttle_scope="search")
    def search_code(self, request, code):
        """Lab results with exactly this test code, of every patient the caller may see."""
        return self.list_of(self.get_queryset().filter(test_code=normalise_code(code)))

    @extend_schema(responses=LabResultSerializer(many=True))
    @action(
        detail=False,
        methods=["get"],
        url_path=r"search/code-pattern/(?P<pattern>[^/]+)",
        throttle_scope="search",
    )
    def search_code_pattern(self, request, pattern):
        """Lab results whose test code contains the pattern, of every patient the caller may
        see."""
        return self.list_of(self.get_queryset().filter(test_code__icontains=pattern.strip()))

    @extend_schema(responses=PatientCountSerializer)
    @action(detail=False, methods=["get"], url_path=r"stats/patient/(?P<patient_id>[0-9]+)/count")
    def patient_count(self, request, patient_id):
        """How many lab results the patient has."""
        count = self.get_queryset().count()
        return Response({"patient_id": self.target_patient_id(), "lab_result_count": count})

    @extend_schema(responses=PractitionerCountSerializer)
    @action(
        detail=False,
        methods=["get"],
        url_path=r"stats/practitioner/(?P<practitioner_id>[0-9]+)/count",
    )
    def practitioner_count(self, request, practitioner_id):
        """How many lab results the practitioner ordered, over every patient the caller may
        see."""
        count = self.get_queryset().filter(practitioner_id=practitioner_id).count()
        return Response({"practitioner_id": int(practitioner_id), "lab_result_count": count})

    @extend_schema(responses=CodeCountSerializer)
    @action(detail=False, methods=["get"], url_path=rf"stats/code/{CODE}/count")
    def code_count(self, request, code):
        """How often the test code was used, over every patient the caller may see."""
        code = normalise_code(code)
        count = self.get_queryset().filter(test_code=code).count()
        return Response({"code": code, "usage_count": count})


# --- lab test components --------------------------------------------------------------------

# A change to these re-derives a status that was derived (a status set by hand stays).
STATUS_INPUTS = {"value", "ref_range_min", "ref_range_max", "qualitative_value", "result_type"}


class LabTestComponentSerializer(PatientOwnedSerializer):
    status = serializers.ChoiceField(
        choices=LabTestComponentStatus.choices,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Derived from the value and reference range when left out.",
    )
    lab_result = LabResultSummarySerializer(read_only=True)

    class Meta:
        model = LabTestComponent
        fields = [
            *BASE_FIELDS,
            "lab_result_id",
            "test_name",
            "abbreviation",
            "test_code",
            "canonical_test_name",
            "result_type",
            "value",
            "unit",
            "qualitative_value",
            "textual_value",
            "ref_range_min",
            "ref_range_max",
            "ref_range_text",
            "status",
            "category",
            "display_order",
            "notes",
            "lab_result",
            *TIMESTAMP_FIELDS,
        ]

    def validate(self, attrs):
        if attrs.get("status") is None:
            attrs.pop("status", None)
        if self.instance is None:
            attrs.setdefault("status", "")  # the model derives it
        elif (
            "status" not in attrs
            and STATUS_INPUTS & attrs.keys()
            and self.instance.status == self.instance.derived_status()
        ):
            attrs["status"] = ""
        return super().validate(attrs)


class LabTestComponentWithDatesSerializer(LabTestComponentSerializer):
    """A component with its lab result's dates and facility (the app's component catalogue)."""

    completed_date = serializers.DateField(source="lab_result.completed_date", read_only=True)
    ordered_date = serializers.DateField(source="lab_result.ordered_date", read_only=True)
    facility = serializers.CharField(source="lab_result.facility", read_only=True)

    class Meta(LabTestComponentSerializer.Meta):
        fields = [
            *LabTestComponentSerializer.Meta.fields,
            "completed_date",
            "ordered_date",
            "facility",
        ]


class ComponentBulkSerializer(FastSerializer):
    """The envelope; each row is validated on its own so that bad rows can be reported."""

    lab_result_id = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**62,
        help_text="Ignored: the lab result is the one in the path.",
    )
    components = serializers.ListField(
        child=serializers.JSONField(), min_length=1, max_length=MAX_BULK_COMPONENTS
    )


class ComponentBulkRequestSerializer(ComponentBulkSerializer):
    """The envelope as documented."""

    components = LabTestComponentSerializer(many=True)


class ComponentBulkErrorSerializer(FastSerializer):
    index = serializers.IntegerField(help_text="Position of the row in `components`.")
    test_name = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ComponentBulkResultSerializer(FastSerializer):
    created_count = serializers.IntegerField()
    components = LabTestComponentSerializer(many=True)
    errors = ComponentBulkErrorSerializer(many=True)


class ComponentStatisticsSerializer(FastSerializer):
    lab_result_id = serializers.IntegerField()
    total_components = serializers.IntegerField()
    status_breakdown = serializers.DictField(child=serializers.IntegerField())
    category_breakdown = serializers.DictField(child=serializers.IntegerField())
    abnormal_count = serializers.IntegerField()
    critical_count = serializers.IntegerField()
    normal_count = serializers.IntegerField()
    pending_count = serializers.IntegerField(
        help_text="Quantitative components still waiting for their value (not counted above)."
    )


class LabTestComponentFilterSet(PatientOwnedFilterSet):
    search_fields = ("test_name", "abbreviation", "test_code")

    category = django_filters.CharFilter(field_name="category")
    status = django_filters.CharFilter(field_name="status")
    result_type = django_filters.CharFilter(field_name="result_type")
    lab_result_id = django_filters.NumberFilter(
        field_name="lab_result_id", min_value=1, max_value=2**62, decimal_places=0
    )

    class Meta:
        model = LabTestComponent
        fields: list = []


LAB_RESULT_PATH = r"lab-result/(?P<lab_result_id>[0-9]+)"


def _flat_errors(errors, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for name, value in errors.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, dict):
            flat.update(_flat_errors(value, key))
        else:
            flat[key] = [str(message) for message in value]
    return flat


@record_viewset_schema
@extend_schema_view(
    patient_all=extend_schema(responses=LabTestComponentWithDatesSerializer(many=True))
)
@extend_schema(tags=["lab-test-components"])
class LabTestComponentViewSet(PatientComponentsMixin, PatientOwnedViewSet):
    """Components are listed per lab result; their patient is the lab result's patient."""

    queryset = LabTestComponent.objects.select_related("lab_result")
    serializer_class = LabTestComponentSerializer
    all_serializer_class = LabTestComponentWithDatesSerializer
    filterset_class = LabTestComponentFilterSet
    default_limit = 100
    max_limit = 1000
    across_patients_actions = frozenset({"component"})

    def lab_result(self) -> LabResult:
        """The lab result named in the path: 404 unless the caller may see it."""
        if not hasattr(self, "_lab_result"):
            found = (
                LabResult.objects.visible_to(self.request.user)
                .filter(pk=self.kwargs["lab_result_id"])
                .first()
            )
            if found is None:
                raise Http404("Lab result not found")
            self._lab_result = found
        return self._lab_result

    def _requested_patient(self):
        # Under lab-result/{id}/… the lab result names the patient.
        if "lab_result_id" in self.kwargs:
            return self.lab_result().patient_id
        return super()._requested_patient()

    def _editable_lab_result(self) -> LabResult:
        lab_result = self.lab_result()
        require_patient_access(self.request.user, lab_result.patient_id, Level.EDIT)
        return lab_result

    def _row_serializer(self, row, lab_result: LabResult):
        if hasattr(row, "dict"):  # a form-encoded body: one value per field
            row = row.dict()
        if isinstance(row, dict):
            row = {**row, "lab_result_id": lab_result.pk, "patient_id": lab_result.patient_id}
        # Anything but an object fails validation ("Invalid data. Expected a dictionary").
        return self.get_serializer(data=row)

    @extend_schema(
        methods=["GET"],
        summary="List the components of a lab result",
        responses=LabTestComponentSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a component to a lab result",
        description="Adds one test result (name, value, unit, reference range …) to the lab "
        "result in the path; needs EDIT access to its patient.",
        request=LabTestComponentSerializer,
        responses={201: LabTestComponentSerializer},
    )
    @action(detail=False, methods=["get", "post"], url_path=rf"{LAB_RESULT_PATH}/components")
    def lab_result_components(self, request, lab_result_id):
        """The components of one lab result (filters: category, status), or add one."""
        if request.method == "GET":
            return self.list_of(self.get_queryset().filter(lab_result=self.lab_result()))
        serializer = self._row_serializer(request.data, self._editable_lab_result())
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ComponentBulkSerializer, responses={201: ComponentBulkResultSerializer})
    @action(detail=False, methods=["post"], url_path=rf"{LAB_RESULT_PATH}/components/bulk")
    def bulk_components(self, request, lab_result_id):
        """Adds up to 100 components at once: valid rows are created (in one transaction),
        invalid rows are reported with their index. 422 when no row is valid."""
        lab_result = self._editable_lab_result()
        envelope = ComponentBulkSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        valid, errors, invalid = [], [], {}
        for index, row in enumerate(envelope.validated_data["components"]):
            serializer = self._row_serializer(row, lab_result)
            if serializer.is_valid():
                valid.append(serializer)
                continue
            invalid[index] = serializer.errors
            flat = _flat_errors(serializer.errors)
            message = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in flat.items())
            errors.append(
                {
                    "index": index,
                    "test_name": row.get("test_name") if isinstance(row, dict) else None,
                    "message": message,
                    "errors": flat,
                }
            )
        if not valid:
            raise serializers.ValidationError({"components": invalid})
        with transaction.atomic():
            for serializer in valid:
                self.perform_create(serializer)
        created = [serializer.instance for serializer in valid]
        body = {
            "created_count": len(created),
            "components": self.get_serializer(created, many=True).data,
            "errors": errors,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ComponentStatisticsSerializer)
    @action(detail=False, methods=["get"], url_path=rf"{LAB_RESULT_PATH}/statistics")
    def statistics(self, request, lab_result_id):
        """Counts of one lab result's components by status and category; components still
        waiting for their value only count as pending."""
        all_components = self.get_queryset().filter(lab_result=self.lab_result()).order_by()
        # Rows still waiting for their value are counted apart, not as "unknown".
        components = all_components.with_result()
        by_status = {
            (row["status"] or "unknown"): row["n"]
            for row in components.values("status").annotate(n=Count("id"))
        }
        by_category: dict[str, int] = {}
        for row in components.values("category").annotate(n=Count("id")):
            key = row["category"] or "other"
            by_category[key] = by_category.get(key, 0) + row["n"]
        return Response(
            {
                "lab_result_id": self.lab_result().pk,
                "total_components": sum(by_status.values()),
                "status_breakdown": by_status,
                "category_breakdown": by_category,
                "abnormal_count": sum(by_status.get(s, 0) for s in ABNORMAL_STATUSES),
                "critical_count": by_status.get("critical", 0),
                "normal_count": by_status.get("normal", 0),
                "pending_count": all_components.count() - sum(by_status.values()),
            }
        )

    @extend_schema(
        methods=["GET"], summary="Get a lab test component", responses=LabTestComponentSerializer
    )
    @extend_schema(
        methods=["PUT", "PATCH"],
        summary="Change a lab test component",
        request=LabTestComponentSerializer,
        responses=LabTestComponentSerializer,
    )
    @extend_schema(methods=["DELETE"], summary="Delete a lab test component", responses={204: None})
    @action(
        detail=False,
        methods=["get", "put", "patch", "delete"],
        url_path=r"components/(?P<pk>[0-9]+)",
    )
    def component(self, request, pk):
        """One component by id (the same as /lab-test-components/{id})."""
        handlers = {
            "GET": self.retrieve,
            "PUT": self.update,
            "PATCH": self.partial_update,
            "DELETE": self.destroy,
        }
        return handlers[request.method](request, pk=pk)


# --- links ----------------------------------------------------------------------------------

ENCOUNTER_LAB_RESULTS = LinkFamily(
    model=EncounterLabResult,
    parent="encounter",
    child="lab_result",
    child_summary=LabResultSummarySerializer,
    extra_fields=("purpose", "relevance_note"),
    delete_message="Encounter lab result relationship deleted successfully",
)
LAB_RESULT_ENCOUNTERS = LinkFamily(
    model=EncounterLabResult,
    parent="lab_result",
    child="encounter",
    child_summary=EncounterSummarySerializer,
    extra_fields=("purpose", "relevance_note"),
    delete_message="Lab result encounter relationship deleted successfully",
)
LAB_RESULT_CONDITIONS = LinkFamily(
    model=LabResultCondition,
    parent="lab_result",
    child="condition",
    child_summary=ConditionSummarySerializer,
    extra_fields=("relevance_note",),
    delete_message="Lab result condition relationship deleted successfully",
)
CONDITION_LAB_RESULTS = LinkFamily(
    model=LabResultCondition,
    parent="condition",
    child="lab_result",
    child_summary=LabResultSummarySerializer,
    extra_fields=("relevance_note",),
    delete_message="Lab result condition relationship deleted successfully",
)

urlpatterns = (
    link_urlpatterns(
        ENCOUNTER_LAB_RESULTS, base="encounters/<int:parent_id>/lab-results", tag="encounters"
    )
    + link_urlpatterns(
        LAB_RESULT_ENCOUNTERS, base="lab-results/<int:parent_id>/encounters", tag="lab-results"
    )
    + link_urlpatterns(
        LAB_RESULT_CONDITIONS, base="lab-results/<int:parent_id>/conditions", tag="lab-results"
    )
    # The reference also lists a condition's lab results from the condition's side.
    + link_urlpatterns(
        CONDITION_LAB_RESULTS,
        list_paths=("conditions/<int:parent_id>/lab-results",),
        tag="conditions",
    )
)


def register(router, nested, register_record):
    register_record(router, nested, "lab-results", LabResultViewSet, "lab-result")
    register_record(
        router, nested, "lab-test-components", LabTestComponentViewSet, "lab-test-component"
    )
