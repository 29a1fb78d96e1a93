"""Encounter ⇄ lab result (both sides), lab result ⇄ condition, and the lab result's
medication, procedure and treatment links."""

from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.models import (
    EncounterLabResult,
    LabResultCondition,
    LabResultMedication,
    LabResultProcedure,
    TreatmentLabResult,
)
from records.tests.factories import (
    ConditionFactory,
    EncounterFactory,
    LabResultFactory,
    MedicationFactory,
    ProcedureFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def visit(patient):
    return EncounterFactory(patient=patient, reason="Annual checkup", date="2025-01-10")


@pytest.fixture
def lab(patient):
    return LabResultFactory(patient=patient, test_name="Complete Blood Count")


class TestEncounterSide:
    def test_link_list_update_unlink(self, alice_api, visit, lab):
        url = f"{API}/encounters/{visit.pk}/lab-results"
        created = alice_api.post(
            url,
            {"lab_result_id": lab.pk, "purpose": "ordered_during", "relevance_note": "CBC"},
            format="json",
        )
        assert created.status_code == 201, created.content
        link = created.json()
        assert (link["encounter_id"], link["lab_result_id"]) == (visit.pk, lab.pk)
        assert link["purpose"] == "ordered_during"
        assert link["lab_result"]["test_name"] == "Complete Blood Count"
        assert [item["id"] for item in alice_api.get(url).json()] == [link["id"]]
        updated = alice_api.put(
            f"{url}/{link['id']}",
            {"purpose": "results_reviewed", "relevance_note": "Updated note"},
            format="json",
        )
        assert updated.status_code == 200
        assert updated.json()["purpose"] == "results_reviewed"
        assert updated.json()["relevance_note"] == "Updated note"
        deleted = alice_api.delete(f"{url}/{link['id']}")
        assert deleted.json()["message"] == (
            "Encounter lab result relationship deleted successfully"
        )
        assert not EncounterLabResult.objects.exists()

    def test_bulk_with_shared_purpose(self, alice_api, visit, patient):
        labs = LabResultFactory.create_batch(3, patient=patient)
        EncounterLabResult.objects.create(encounter=visit, lab_result=labs[0])
        response = alice_api.post(
            f"{API}/encounters/{visit.pk}/lab-results/bulk",
            {"lab_result_ids": [lab.pk for lab in labs], "purpose": "follow_up_for"},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert sorted(item["lab_result_id"] for item in response.json()) == sorted(
            lab.pk for lab in labs[1:]
        )
        assert EncounterLabResult.objects.filter(purpose="follow_up_for").count() == 2

    @pytest.mark.parametrize(
        "body", [{"purpose": "whenever"}, {"relevance_note": "x" * 501}, {"lab_result_id": "x"}]
    )
    def test_bad_input_is_422(self, alice_api, visit, lab, body):
        response = alice_api.post(
            f"{API}/encounters/{visit.pk}/lab-results",
            {"lab_result_id": lab.pk, **body},
            format="json",
        )
        assert response.status_code == 422
        assert not EncounterLabResult.objects.exists()

    def test_bad_purpose_in_bulk_is_422(self, alice_api, visit, lab):
        response = alice_api.post(
            f"{API}/encounters/{visit.pk}/lab-results/bulk",
            {"lab_result_ids": [lab.pk], "purpose": "whenever"},
            format="json",
        )
        assert response.status_code == 422

    def test_another_patients_lab_result_is_400(self, alice_api, visit, alice):
        elsewhere = LabResultFactory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            f"{API}/encounters/{visit.pk}/lab-results", {"lab_result_id": elsewhere.pk}
        )
        assert response.status_code == 400
        assert not EncounterLabResult.objects.exists()


class TestLabResultSide:
    def test_link_list_unlink(self, alice_api, visit, lab):
        url = f"{API}/lab-results/{lab.pk}/encounters"
        created = alice_api.post(
            url, {"encounter_id": visit.pk, "purpose": "results_reviewed"}, format="json"
        )
        assert created.status_code == 201, created.content
        link = created.json()
        assert link["encounter"]["reason"] == "Annual checkup"
        assert link["encounter"]["date"] == "2025-01-10"
        # The same link, seen from the visit.
        from_visit = alice_api.get(f"{API}/encounters/{visit.pk}/lab-results").json()
        assert [item["id"] for item in from_visit] == [link["id"]]
        deleted = alice_api.delete(f"{url}/{link['id']}")
        assert deleted.json()["message"] == (
            "Lab result encounter relationship deleted successfully"
        )

    def test_bulk(self, alice_api, lab, patient):
        visits = EncounterFactory.create_batch(2, patient=patient)
        response = alice_api.post(
            f"{API}/lab-results/{lab.pk}/encounters/bulk",
            {"encounter_ids": [v.pk for v in visits], "relevance_note": "Discussed"},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert len(response.json()) == 2

    def test_deleting_the_visit_removes_the_link(self, alice_api, visit, lab):
        EncounterLabResult.objects.create(encounter=visit, lab_result=lab)
        assert alice_api.delete(f"{API}/encounters/{visit.pk}").status_code == 200
        assert alice_api.get(f"{API}/lab-results/{lab.pk}/encounters").json() == []


class TestConditions:
    def test_link_list_update_unlink(self, alice_api, lab, patient):
        condition = ConditionFactory(patient=patient, condition_name="Type 2 Diabetes")
        url = f"{API}/lab-results/{lab.pk}/conditions"
        created = alice_api.post(
            url,
            {"condition_id": condition.pk, "relevance_note": "Monitoring glucose levels"},
            format="json",
        )
        assert created.status_code == 201, created.content
        link = created.json()
        assert link["lab_result_id"] == lab.pk and link["condition_id"] == condition.pk
        assert link["condition"]["diagnosis"] == "Type 2 Diabetes"
        assert set(link["condition"]) >= {"id", "diagnosis", "status", "severity"}
        assert [item["id"] for item in alice_api.get(url).json()] == [link["id"]]
        from_condition = alice_api.get(f"{API}/conditions/{condition.pk}/lab-results").json()
        assert from_condition[0]["lab_result"]["id"] == lab.pk
        updated = alice_api.put(
            f"{url}/{link['id']}", {"relevance_note": "Updated relevance note"}, format="json"
        )
        assert updated.json()["relevance_note"] == "Updated relevance note"
        deleted = alice_api.delete(f"{url}/{link['id']}")
        assert deleted.status_code == 200
        assert deleted.json()["message"] == "Lab result condition relationship deleted successfully"
        assert not LabResultCondition.objects.exists()

    def test_bulk_and_twice(self, alice_api, lab, patient):
        conditions = ConditionFactory.create_batch(2, patient=patient)
        url = f"{API}/lab-results/{lab.pk}/conditions"
        bulk = alice_api.post(
            f"{url}/bulk", {"condition_ids": [c.pk for c in conditions]}, format="json"
        )
        assert bulk.status_code == 200 and len(bulk.json()) == 2
        again = alice_api.post(url, {"condition_id": conditions[0].pk}, format="json")
        assert again.status_code == 400
        assert LabResultCondition.objects.count() == 2

    def test_another_patients_condition_is_400(self, alice_api, lab, alice):
        elsewhere = ConditionFactory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            f"{API}/lab-results/{lab.pk}/conditions", {"condition_id": elsewhere.pk}
        )
        assert response.status_code == 400

    def test_deleting_the_condition_removes_the_link(self, alice_api, lab, patient):
        condition = ConditionFactory(patient=patient)
        LabResultCondition.objects.create(lab_result=lab, condition=condition)
        assert alice_api.delete(f"{API}/conditions/{condition.pk}").status_code == 200
        assert not LabResultCondition.objects.exists()


class TestAccess:
    @pytest.mark.parametrize(
        ("parent", "child", "body_field"),
        [
            ("encounters", "lab-results", "lab_result_id"),
            ("lab-results", "encounters", "encounter_id"),
            ("lab-results", "conditions", "condition_id"),
        ],
    )
    def test_view_share_reads_but_cannot_link(
        self, client_for, bob, shared_patient, parent, child, body_field
    ):
        records = {
            "encounters": EncounterFactory(patient=shared_patient),
            "lab-results": LabResultFactory(patient=shared_patient),
            "conditions": ConditionFactory(patient=shared_patient),
        }
        url = f"{API}/{parent}/{records[parent].pk}/{child}"
        api = client_for(bob)
        assert api.get(url).status_code == 200
        body = {body_field: records[child].pk}
        assert api.post(url, body, format="json").status_code == 403
        bulk = api.post(f"{url}/bulk", {f"{body_field}s": [records[child].pk]}, format="json")
        assert bulk.status_code == 403
        assert not EncounterLabResult.objects.exists()
        assert not LabResultCondition.objects.exists()

    def test_edit_share_links(self, client_for, carol, shared_patient):
        visit = EncounterFactory(patient=shared_patient)
        lab = LabResultFactory(patient=shared_patient)
        response = client_for(carol).post(
            f"{API}/encounters/{visit.pk}/lab-results", {"lab_result_id": lab.pk}, format="json"
        )
        assert response.status_code == 201

    def test_stranger_sees_nothing(self, client_for, mallory, visit, lab):
        link = EncounterLabResult.objects.create(encounter=visit, lab_result=lab)
        api = client_for(mallory)
        for path in (
            f"{API}/encounters/{visit.pk}/lab-results",
            f"{API}/lab-results/{lab.pk}/encounters",
            f"{API}/lab-results/{lab.pk}/conditions",
        ):
            assert api.get(path).status_code == 404
        delete = api.delete(f"{API}/encounters/{visit.pk}/lab-results/{link.pk}")
        assert delete.status_code == 404
        assert EncounterLabResult.objects.filter(pk=link.pk).exists()

    def test_strangers_lab_result_cannot_be_linked(self, alice_api, visit):
        response = alice_api.post(
            f"{API}/encounters/{visit.pk}/lab-results",
            {"lab_result_id": LabResultFactory().pk},
            format="json",
        )
        assert response.status_code == 404


# --- lab result ⇄ medication, ⇄ procedure, ⇄ treatment (the app's §6 calls) -----------------


@dataclass(frozen=True)
class LabLink:
    segment: str  # /lab-results/{id}/<segment>
    child: str
    factory: type
    model: type
    shown: dict  # fields of the nested object the app reads, with the factory's values
    extra: dict = field(default_factory=dict)  # link fields the app sends besides the note


LAB_LINKS = [
    LabLink(
        "medications",
        "medication",
        MedicationFactory,
        LabResultMedication,
        {"medication_name": "Metformin", "dosage": "500 mg", "status": "active"},
    ),
    LabLink(
        "procedures",
        "procedure",
        ProcedureFactory,
        LabResultProcedure,
        {"procedure_name": "Liver biopsy", "status": "completed"},
    ),
    LabLink(
        "treatments",
        "treatment",
        TreatmentFactory,
        TreatmentLabResult,
        {"treatment_name": "Statin therapy", "status": "active"},
        {"purpose": "monitoring", "expected_frequency": "Every 3 months"},
    ),
]


@pytest.fixture(params=LAB_LINKS, ids=lambda link: link.segment)
def lab_link(request):
    return request.param


def lab_links_url(lab, link):
    return f"{API}/lab-results/{lab.pk}/{link.segment}"


class TestLabResultLinks:
    def test_link_list_update_unlink(self, alice_api, lab, patient, lab_link):
        record = lab_link.factory(patient=patient, **lab_link.shown)
        url = lab_links_url(lab, lab_link)
        body = {f"{lab_link.child}_id": record.pk, "relevance_note": "Follow-up", **lab_link.extra}
        created = alice_api.post(url, body, format="json")
        assert created.status_code == 201, created.content
        link = created.json()
        assert link["lab_result_id"] == lab.pk and link[f"{lab_link.child}_id"] == record.pk
        assert link["relevance_note"] == "Follow-up"
        for name, value in {**lab_link.extra}.items():
            assert link[name] == value
        for name, value in lab_link.shown.items():
            assert link[lab_link.child][name] == value
        listed = alice_api.get(url)
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()] == [link["id"]]
        updated = alice_api.put(
            f"{url}/{link['id']}", {"relevance_note": "Second look"}, format="json"
        )
        assert updated.status_code == 200, updated.content
        assert updated.json()["relevance_note"] == "Second look"
        deleted = alice_api.delete(f"{url}/{link['id']}")
        assert deleted.status_code == 200
        assert deleted.json()["message"] == (
            f"Lab result {lab_link.child} relationship deleted successfully"
        )
        assert not lab_link.model.objects.exists()
        assert type(record).objects.filter(pk=record.pk).exists()

    def test_twice_is_400_and_bulk_skips(self, alice_api, lab, patient, lab_link):
        records = lab_link.factory.create_batch(2, patient=patient)
        url = lab_links_url(lab, lab_link)
        one = {f"{lab_link.child}_id": records[0].pk}
        assert alice_api.post(url, one, format="json").status_code == 201
        assert alice_api.post(url, one, format="json").status_code == 400
        bulk = alice_api.post(
            f"{url}/bulk", {f"{lab_link.child}_ids": [r.pk for r in records]}, format="json"
        )
        assert bulk.status_code == 200 and len(bulk.json()) == 1
        assert lab_link.model.objects.count() == 2

    def test_another_patients_record_is_400(self, alice_api, lab, alice, lab_link):
        elsewhere = lab_link.factory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            lab_links_url(lab, lab_link), {f"{lab_link.child}_id": elsewhere.pk}, format="json"
        )
        assert response.status_code == 400
        assert not lab_link.model.objects.exists()

    def test_bad_note_is_422(self, alice_api, lab, patient, lab_link):
        record = lab_link.factory(patient=patient)
        response = alice_api.post(
            lab_links_url(lab, lab_link),
            {f"{lab_link.child}_id": record.pk, "relevance_note": "x" * 501},
            format="json",
        )
        assert response.status_code == 422

    def test_access(self, client_for, bob, carol, mallory, anon, shared_patient, lab_link):
        lab = LabResultFactory(patient=shared_patient)
        record = lab_link.factory(patient=shared_patient)
        url = lab_links_url(lab, lab_link)
        body = {f"{lab_link.child}_id": record.pk}
        assert anon.get(url).status_code == 401
        assert client_for(mallory).get(url).status_code == 404
        assert client_for(mallory).post(url, body, format="json").status_code == 404
        assert client_for(bob).get(url).status_code == 200
        assert client_for(bob).post(url, body, format="json").status_code == 403
        created = client_for(carol).post(url, body, format="json")
        assert created.status_code == 201
        item = f"{url}/{created.json()['id']}"
        assert client_for(bob).delete(item).status_code == 403
        assert client_for(mallory).delete(item).status_code == 404
        assert lab_link.model.objects.count() == 1

    def test_deleting_either_side_removes_the_link(self, alice_api, lab, patient, lab_link):
        for deleted in ("child", "lab_result"):
            record = lab_link.factory(patient=patient)
            parent = lab if deleted == "child" else LabResultFactory(patient=patient)
            lab_link.model.objects.create(lab_result=parent, **{lab_link.child: record})
            target = record if deleted == "child" else parent
            target.delete()
            assert not lab_link.model.objects.exists()

    def test_list_queries_do_not_grow(self, alice_api, lab, patient, lab_link):
        url = lab_links_url(lab, lab_link)

        def add(count):
            for record in lab_link.factory.create_batch(count, patient=patient):
                lab_link.model.objects.create(lab_result=lab, **{lab_link.child: record})

        add(2)
        with CaptureQueriesContext(connection) as few:
            assert len(alice_api.get(url).json()) == 2
        add(18)
        with CaptureQueriesContext(connection) as many:
            assert len(alice_api.get(url).json()) == 20
        assert len(many) == len(few)


def test_treatment_link_is_the_treatment_plans_row(alice_api, lab, patient):
    treatment = TreatmentFactory(patient=patient, treatment_name="Statin therapy")
    created = alice_api.post(
        f"{API}/lab-results/{lab.pk}/treatments",
        {"treatment_id": treatment.pk, "purpose": "baseline"},
        format="json",
    )
    assert created.status_code == 201, created.content
    from_plan = alice_api.get(f"{API}/treatments/{treatment.pk}/lab-results").json()
    assert [(row["id"], row["purpose"]) for row in from_plan] == [
        (created.json()["id"], "baseline")
    ]
    assert from_plan[0]["lab_result"]["id"] == lab.pk
    assert TreatmentLabResult.objects.count() == 1
