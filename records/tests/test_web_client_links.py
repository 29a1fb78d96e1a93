"""Links between records as MediKeep's web app (v0.69.0) makes and reads them
(../shared/reference/web-client-api.md §6): its bodies (nulls for empty notes and purposes),
the status it expects, bare arrays, and the nested object of the other side with the
display fields the app shows."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from records.tests.factories import (
    ConditionFactory,
    EncounterFactory,
    LabResultFactory,
    MedicalEquipmentFactory,
    MedicationFactory,
    ProcedureFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


@dataclass(frozen=True)
class LinkPage:
    base: str  # "conditions/{}/medications": the parent's id goes in {}
    parent: type
    child: type
    child_key: str  # the body's and the answer's name of the linked record ("medication")
    shows: tuple[str, ...]  # display fields of the nested object the app reads
    extra: dict  # further fields of the app's create body
    edit: dict  # the app's edit body
    list_path: str | None = None  # where the app lists, when not at `base`
    created: int = 201
    bulk: bool = True

    def url(self, parent, rest="") -> str:
        return f"{API}/{self.base.format(parent.pk)}{rest}"


PAGES = [
    LinkPage(
        "conditions/{}/medications",
        ConditionFactory,
        MedicationFactory,
        "medication",
        ("medication_name", "dosage", "status"),
        {"relevance_note": None},
        {"relevance_note": "For flare-ups"},
        list_path="conditions/condition-medications/{}",
    ),
    LinkPage(
        "lab-results/{}/conditions",
        LabResultFactory,
        ConditionFactory,
        "condition",
        ("diagnosis", "status", "severity"),
        {"relevance_note": None},
        {"relevance_note": "Confirms it"},
        bulk=False,
    ),
    LinkPage(
        "lab-results/{}/encounters",
        LabResultFactory,
        EncounterFactory,
        "encounter",
        ("reason", "date", "visit_type"),
        {"purpose": None, "relevance_note": None},
        {"purpose": "results_reviewed", "relevance_note": "Discussed"},
        bulk=False,
    ),
    LinkPage(
        "lab-results/{}/medications",
        LabResultFactory,
        MedicationFactory,
        "medication",
        ("medication_name", "dosage", "status"),
        {"relevance_note": None},
        {"relevance_note": "Monitors it"},
        bulk=False,
    ),
    LinkPage(
        "lab-results/{}/procedures",
        LabResultFactory,
        ProcedureFactory,
        "procedure",
        ("procedure_name",),
        {"relevance_note": None},
        {"relevance_note": "Biopsy sample"},
        bulk=False,
    ),
    LinkPage(
        "lab-results/{}/treatments",
        LabResultFactory,
        TreatmentFactory,
        "treatment",
        ("treatment_name", "status"),
        {"purpose": None, "relevance_note": None},
        {"purpose": "monitoring", "relevance_note": "Checks the plan"},
        bulk=False,
    ),
    LinkPage(
        "encounters/{}/lab-results",
        EncounterFactory,
        LabResultFactory,
        "lab_result",
        ("test_name", "status", "completed_date"),
        {"purpose": None, "relevance_note": None},
        {"purpose": "ordered_during", "relevance_note": "Ordered at the visit"},
    ),
    LinkPage(
        "treatments/{}/medications",
        TreatmentFactory,
        MedicationFactory,
        "medication",
        ("medication_name", "dosage", "status"),
        {
            "specific_dosage": None,
            "specific_frequency": None,
            "specific_duration": None,
            "timing_instructions": None,
            "relevance_note": None,
            "specific_prescriber_id": None,
            "specific_pharmacy_id": None,
            "specific_start_date": None,
        },
        {"specific_dosage": "20mg", "timing_instructions": "With food"},
        created=200,  # the contract's section says 200
    ),
    LinkPage(
        "treatments/{}/encounters",
        TreatmentFactory,
        EncounterFactory,
        "encounter",
        ("reason", "date", "visit_type"),
        {"visit_label": None, "visit_sequence": None, "relevance_note": None},
        {"visit_label": "follow_up", "visit_sequence": 2},
    ),
    LinkPage(
        "treatments/{}/lab-results",
        TreatmentFactory,
        LabResultFactory,
        "lab_result",
        ("test_name", "status", "completed_date"),
        {"purpose": None, "expected_frequency": None, "relevance_note": None},
        {"purpose": "monitoring", "expected_frequency": "Monthly"},
    ),
    LinkPage(
        "treatments/{}/equipment",
        TreatmentFactory,
        MedicalEquipmentFactory,
        "equipment",
        ("equipment_name",),
        {"usage_frequency": None, "specific_settings": None, "relevance_note": None},
        {"usage_frequency": "Nightly", "specific_settings": "10 cmH2O"},
    ),
]


def _page_id(page) -> str:
    return page.base.replace("/{}", "")


@pytest.fixture(params=PAGES, ids=_page_id)
def page(request):
    return request.param


@pytest.fixture(params=[p for p in PAGES if p.bulk], ids=_page_id)
def bulk_page(request):
    """The link pages where the app links several records in one call."""
    return request.param


def parent_key(page) -> str:
    return page.parent._meta.model._meta.model_name.replace("labresult", "lab_result") + "_id"


class TestLinks:
    def test_link_list_edit_unlink(self, page, alice_api, patient):
        parent = page.parent(patient=patient)
        child = page.child(patient=patient)
        body = {f"{page.child_key}_id": child.pk, **page.extra}
        if page.base.startswith("lab-results/{}/conditions"):
            body["lab_result_id"] = parent.pk  # the app sends both ids here
        created = alice_api.post(page.url(parent), body, format="json")
        assert created.status_code == page.created, created.content
        link = created.json()
        assert link[f"{page.child_key}_id"] == child.pk
        assert link[parent_key(page)] == parent.pk

        list_url = f"{API}/{page.list_path.format(parent.pk)}" if page.list_path else None
        listed = alice_api.get(list_url or page.url(parent))
        assert listed.status_code == 200
        assert isinstance(listed.json(), list)
        (row,) = listed.json()
        assert row["id"] == link["id"] and "relevance_note" in row
        nested = row[page.child_key]
        assert nested["id"] == child.pk
        missing = set(page.shows) - set(nested)
        assert not missing, missing

        edited = alice_api.put(page.url(parent, f"/{link['id']}"), page.edit, format="json")
        assert edited.status_code == 200, edited.content
        assert {k: edited.json()[k] for k in page.edit} == page.edit

        removed = alice_api.delete(page.url(parent, f"/{link['id']}"))
        assert removed.status_code == 200
        assert alice_api.get(list_url or page.url(parent)).json() == []

    def test_bulk(self, bulk_page, alice_api, patient):
        page = bulk_page
        parent = page.parent(patient=patient)
        children = [page.child(patient=patient) for _ in range(2)]
        nulls = {name: None for name in page.extra if name in BULK_FIELDS}
        body = {f"{page.child_key}_ids": [c.pk for c in children], **nulls}
        response = alice_api.post(page.url(parent, "/bulk"), body, format="json")
        assert response.status_code == 200, response.content
        assert sorted(r[f"{page.child_key}_id"] for r in response.json()) == sorted(
            c.pk for c in children
        )

    def test_refusals(self, page, client_for, bob, mallory, anon, shared_patient):
        parent = page.parent(patient=shared_patient)
        body = {f"{page.child_key}_id": page.child(patient=shared_patient).pk}
        assert client_for(bob).post(page.url(parent), body, format="json").status_code == 403
        assert client_for(mallory).get(page.url(parent)).status_code == 404
        assert client_for(mallory).post(page.url(parent), body, format="json").status_code == 404
        assert anon.get(page.url(parent)).status_code == 401
        bad = {f"{page.child_key}_id": "x"}
        assert (
            client_for(shared_patient.owner).post(page.url(parent), bad, format="json").status_code
            == 422
        )


# The fields the app puts beside the ids of a bulk link (§6).
BULK_FIELDS = ("purpose", "relevance_note")


def test_encounter_lab_results_bulk_is_the_apps_object(alice_api, patient):
    encounter = EncounterFactory(patient=patient)
    labs = LabResultFactory.create_batch(2, patient=patient)
    response = alice_api.post(
        f"{API}/encounters/{encounter.pk}/lab-results/bulk",
        {"lab_result_ids": [lab.pk for lab in labs], "purpose": None, "relevance_note": None},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert [row["purpose"] for row in response.json()] == ["", ""]


def test_the_medications_conditions(alice_api, patient):
    medication = MedicationFactory(patient=patient)
    condition = ConditionFactory(patient=patient, condition_name="Hypertension")
    body = {"medication_id": medication.pk, "condition_id": condition.pk, "relevance_note": None}
    created = alice_api.post(f"{API}/conditions/{condition.pk}/medications", body, format="json")
    assert created.status_code == 201, created.content
    listed = alice_api.get(f"{API}/conditions/medication/{medication.pk}/conditions")
    assert listed.status_code == 200
    (row,) = listed.json()
    assert row["condition"]["diagnosis"] == "Hypertension"
    assert {"status", "severity"} <= set(row["condition"])


def test_the_conditions_lab_results(alice_api, patient):
    condition = ConditionFactory(patient=patient)
    lab = LabResultFactory(patient=patient)
    alice_api.post(
        f"{API}/lab-results/{lab.pk}/conditions",
        {"lab_result_id": lab.pk, "condition_id": condition.pk, "relevance_note": None},
        format="json",
    )
    listed = alice_api.get(f"{API}/conditions/{condition.pk}/lab-results")
    assert listed.status_code == 200
    (row,) = listed.json()
    assert {"test_name", "status", "completed_date"} <= set(row["lab_result"])


def test_the_medications_treatments(alice_api, patient):
    medication = MedicationFactory(patient=patient)
    treatment = TreatmentFactory(patient=patient, treatment_name="Cardio plan")
    alice_api.post(
        f"{API}/treatments/{treatment.pk}/medications",
        {"medication_id": medication.pk, "specific_dosage": "5mg"},
        format="json",
    )
    listed = alice_api.get(f"{API}/medications/{medication.pk}/treatments")
    assert listed.status_code == 200
    (row,) = listed.json()
    assert row["treatment"]["treatment_name"] == "Cardio plan"
    assert {"id", "status"} <= set(row["treatment"])
    assert row["specific_dosage"] == "5mg" and "specific_frequency" in row
    plan = alice_api.get(f"{API}/treatments/{treatment.pk}/medications").json()[0]
    assert {
        "specific_dosage",
        "specific_frequency",
        "specific_duration",
        "timing_instructions",
        "specific_start_date",
        "specific_end_date",
        "specific_prescriber",
        "specific_pharmacy",
        "effective_dosage",
        "effective_frequency",
        "effective_start_date",
        "effective_end_date",
        "effective_prescriber",
        "effective_pharmacy",
        "medication",
    } <= set(plan)
