"""Procedures: /procedures, /procedures/{id}, /procedures/patient/{patient_id}."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from patients.core.filtersets import LenientChoiceFilter, TaggedFilterSet
from patients.core.serializers import (
    BASE_FIELDS,
    TIMESTAMP_FIELDS,
    PatientOwnedSerializer,
    tags_field,
)
from patients.core.views import PatientOwnedViewSet, record_viewset_schema
from records.api.summaries import (
    PRACTITIONER_FIELDS,
    PRACTITIONER_JOIN,
    ConditionSummarySerializer,
    PractitionerSummarySerializer,
)
from records.models import Procedure


class ProcedureSerializer(PatientOwnedSerializer):
    practitioner = PractitionerSummarySerializer(read_only=True, allow_null=True)
    # The reference's record says "date", "procedure_code" and "procedure_complications";
    # the contract "procedure_date". Both names of each are accepted and returned.
    field_aliases = {
        "date": "procedure_date",
        "code": "procedure_code",
        "procedure_complications": "complications",
    }
    tags = tags_field()
    condition = ConditionSummarySerializer(read_only=True)

    class Meta:
        model = Procedure
        fields = [
            *BASE_FIELDS,
            "procedure_name",
            "procedure_code",
            "procedure_type",
            "procedure_date",
            "status",
            "outcome",
            "description",
            "facility",
            "procedure_setting",
            "procedure_duration",
            "anesthesia_type",
            "anesthesia_notes",
            "complications",
            "notes",
            "tags",
            "condition_id",
            "condition",
            *PRACTITIONER_FIELDS,
            *TIMESTAMP_FIELDS,
        ]
        extra_kwargs = {
            "procedure_date": {
                "help_text": "Required on create, under this name or date. Only scheduled or "
                "postponed procedures may lie in the future (up to 10 years)."
            },
        }


class ProcedureFilterSet(TaggedFilterSet):
    search_fields = ("procedure_name", "procedure_code", "facility")

    status = LenientChoiceFilter(field_name="status")
    outcome = LenientChoiceFilter(field_name="outcome")

    class Meta:
        model = Procedure
        fields: list = []


@record_viewset_schema
@extend_schema(tags=["procedures"])
class ProcedureViewSet(PatientOwnedViewSet):
    queryset = Procedure.objects.select_related("condition", PRACTITIONER_JOIN)
    serializer_class = ProcedureSerializer
    filterset_class = ProcedureFilterSet
    delete_status = 200


def register(router, nested, register_record):
    register_record(router, nested, "procedures", ProcedureViewSet, "procedure")
