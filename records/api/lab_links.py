"""The lab-result links the web app calls from the lab result's side
(web-client-api.md §6): /lab-results/{id}/medications, /procedures and /treatments.

A module of its own because it names serializers of three groups (treatments imports labs, so
labs cannot import treatments). Lab result ⇄ treatment is the treatment plan's link
(TreatmentLabResult) seen from the lab result: the same rows, no second table.
"""

from patients.core.links import LinkFamily, link_urlpatterns
from records.api.injuries import ProcedureBriefSerializer
from records.api.summaries import MedicationSummarySerializer
from records.api.treatments import TreatmentSummarySerializer
from records.models import LabResultMedication, LabResultProcedure, TreatmentLabResult

LAB_RESULT_MEDICATIONS = LinkFamily(
    model=LabResultMedication,
    parent="lab_result",
    child="medication",
    child_summary=MedicationSummarySerializer,
    extra_fields=("relevance_note",),
    delete_message="Lab result medication relationship deleted successfully",
)
LAB_RESULT_PROCEDURES = LinkFamily(
    model=LabResultProcedure,
    parent="lab_result",
    child="procedure",
    child_summary=ProcedureBriefSerializer,
    extra_fields=("relevance_note",),
    delete_message="Lab result procedure relationship deleted successfully",
)
LAB_RESULT_TREATMENTS = LinkFamily(
    model=TreatmentLabResult,
    parent="lab_result",
    child="treatment",
    child_summary=TreatmentSummarySerializer,
    extra_fields=("purpose", "expected_frequency", "relevance_note"),
    delete_message="Lab result treatment relationship deleted successfully",
    select_related=("treatment__condition",),
)

urlpatterns = (
    link_urlpatterns(
        LAB_RESULT_MEDICATIONS, base="lab-results/<int:parent_id>/medications", tag="lab-results"
    )
    + link_urlpatterns(
        LAB_RESULT_PROCEDURES, base="lab-results/<int:parent_id>/procedures", tag="lab-results"
    )
    + link_urlpatterns(
        LAB_RESULT_TREATMENTS, base="lab-results/<int:parent_id>/treatments", tag="lab-results"
    )
)


def register(router, nested, register_record):
    """Links only: no record routes."""
