"""Treatment ⇄ medication, encounter, lab result and equipment: the same rules for each.

The effective values of treatment ⇄ medication and the medication's side are in
test_links_treatment_medications.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.models import (
    TreatmentEncounter,
    TreatmentEquipment,
    TreatmentLabResult,
    TreatmentMedication,
)
from records.tests.factories import (
    EncounterFactory,
    LabResultFactory,
    MedicalEquipmentFactory,
    MedicationFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Family:
    path: str
    child: str  # the body's name of the linked record
    factory: type
    model: type
    message: str
    fields: dict  # every field of the link but the child id
    update: dict
    invalid: dict  # a body of bad extra fields and the field the 422 names
    summary: str  # a field of the linked record's summary
    created: int = 201  # the status of a new link (the contract says 200 for medications)

    @property
    def child_id(self) -> str:
        return f"{self.child}_id"

    def url(self, treatment, link_id=None) -> str:
        url = f"/api/v1/treatments/{treatment.pk}/{self.path}"
        return f"{url}/{link_id}" if link_id else url


FAMILIES = [
    Family(
        "medications",
        "medication",
        MedicationFactory,
        TreatmentMedication,
        "Medication link removed",
        fields={
            "specific_dosage": "20mg",
            "specific_frequency": "Twice daily",
            "specific_duration": "6 weeks",
            "timing_instructions": "Take with food",
            "relevance_note": "Primary medication for this plan",
            "specific_start_date": "2026-01-09",
            "specific_end_date": "2026-03-01",
        },
        update={"specific_dosage": "30mg", "timing_instructions": "Morning"},
        invalid={"specific_start_date": "2026-03-01", "specific_end_date": "2026-01-09"},
        summary="medication_name",
        created=200,
    ),
    Family(
        "encounters",
        "encounter",
        EncounterFactory,
        TreatmentEncounter,
        "Encounter link removed",
        fields={"visit_label": "initial", "visit_sequence": 1, "relevance_note": "First visit"},
        update={"visit_label": "follow_up", "visit_sequence": 2},
        invalid={"visit_label": "whenever", "visit_sequence": 0},
        summary="reason",
    ),
    Family(
        "lab-results",
        "lab_result",
        LabResultFactory,
        TreatmentLabResult,
        "Lab result link removed",
        fields={
            "purpose": "baseline",
            "expected_frequency": "Every 3 months",
            "relevance_note": "Before starting",
        },
        update={"purpose": "monitoring", "expected_frequency": "Monthly"},
        invalid={"purpose": "curiosity", "expected_frequency": "x" * 101},
        summary="test_name",
    ),
    Family(
        "equipment",
        "equipment",
        MedicalEquipmentFactory,
        TreatmentEquipment,
        "Equipment link removed",
        fields={
            "usage_frequency": "Nightly",
            "specific_settings": "Pressure 8 cmH2O",
            "relevance_note": "Sleep apnea therapy",
        },
        update={"specific_settings": "Pressure 9 cmH2O"},
        invalid={"specific_settings": "x" * 301, "usage_frequency": "x" * 101},
        summary="equipment_name",
    ),
]


@pytest.fixture(params=FAMILIES, ids=lambda family: family.path)
def family(request):
    return request.param


@pytest.fixture
def treatment(patient):
    return TreatmentFactory(patient=patient, treatment_name="Sleep therapy")


class TestLinkOne:
    def test_link_list_update_unlink(self, alice_api, family, treatment, patient):
        child = family.factory(patient=patient)
        created = alice_api.post(
            family.url(treatment), {family.child_id: child.pk, **family.fields}, format="json"
        )
        assert created.status_code == family.created, created.content
        link = created.json()
        assert (link["treatment_id"], link[family.child_id]) == (treatment.pk, child.pk)
        assert {name: link[name] for name in family.fields} == family.fields
        assert link[family.child]["id"] == child.pk
        assert link[family.child][family.summary] == getattr(child, family.summary)

        listed = alice_api.get(family.url(treatment))
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()] == [link["id"]]

        other = family.factory(patient=patient)
        updated = alice_api.put(
            family.url(treatment, link["id"]),
            {**family.update, family.child_id: other.pk},
            format="json",
        )
        assert updated.status_code == 200, updated.content
        body = updated.json()
        assert {name: body[name] for name in family.update} == family.update
        assert body[family.child_id] == child.pk  # the linked record never changes here

        deleted = alice_api.delete(family.url(treatment, link["id"]))
        assert deleted.status_code == 200
        assert deleted.json() == {"status": "success", "message": family.message}
        assert not family.model.objects.exists()

    def test_every_field_but_the_id_is_optional(self, alice_api, family, treatment, patient):
        child = family.factory(patient=patient)
        response = alice_api.post(family.url(treatment), {family.child_id: child.pk}, format="json")
        assert response.status_code == family.created, response.content
        missing = alice_api.post(family.url(treatment), family.fields, format="json")
        assert missing.status_code == 422 and family.child_id in missing.json()["errors"]

    def test_null_texts_are_read_as_empty(self, alice_api, family, treatment, patient):
        child = family.factory(patient=patient)
        response = alice_api.post(
            family.url(treatment),
            {family.child_id: child.pk, "relevance_note": None},
            format="json",
        )
        assert response.status_code == family.created, response.content
        assert response.json()["relevance_note"] == ""

    def test_twice_is_400(self, alice_api, family, treatment, patient):
        body = {family.child_id: family.factory(patient=patient).pk}
        first = alice_api.post(family.url(treatment), body, format="json")
        assert first.status_code == family.created
        again = alice_api.post(family.url(treatment), body, format="json")
        assert again.status_code == 400
        assert family.model.objects.count() == 1

    def test_another_patients_record_is_400(self, alice_api, family, treatment, alice):
        elsewhere = family.factory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            family.url(treatment), {family.child_id: elsewhere.pk}, format="json"
        )
        assert response.status_code == 400
        assert "different patient" in response.json()["error"]
        assert not family.model.objects.exists()

    def test_invisible_or_missing_records_are_404(self, alice_api, family, treatment):
        for child_id in (family.factory().pk, 999999):
            response = alice_api.post(
                family.url(treatment), {family.child_id: child_id}, format="json"
            )
            assert response.status_code == 404
        missing = alice_api.post(
            f"/api/v1/treatments/999999/{family.path}", {family.child_id: 1}, format="json"
        )
        assert missing.status_code == 404

    def test_bad_fields_are_422(self, alice_api, family, treatment, patient):
        child = family.factory(patient=patient)
        response = alice_api.post(
            family.url(treatment), {family.child_id: child.pk, **family.invalid}, format="json"
        )
        assert response.status_code == 422, response.content
        assert set(family.invalid) & set(response.json()["errors"])
        assert not family.model.objects.exists()

    def test_bad_fields_on_update_are_422(self, alice_api, family, treatment, patient):
        link = family.model.objects.create(
            treatment=treatment, **{family.child: family.factory(patient=patient)}
        )
        response = alice_api.put(family.url(treatment, link.pk), family.invalid, format="json")
        assert response.status_code == 422, response.content

    @pytest.mark.parametrize("child_id", ["x", 0, 2**70, None])
    def test_bad_ids_are_422(self, alice_api, family, treatment, child_id):
        response = alice_api.post(family.url(treatment), {family.child_id: child_id}, format="json")
        assert response.status_code == 422


class TestBulk:
    def test_skips_existing_links(self, alice_api, family, treatment, patient):
        children = family.factory.create_batch(3, patient=patient)
        family.model.objects.create(treatment=treatment, **{family.child: children[0]})
        response = alice_api.post(
            family.url(treatment, "bulk"),
            {f"{family.child}_ids": [c.pk for c in children], "relevance_note": "For the plan"},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert sorted(item[family.child_id] for item in response.json()) == sorted(
            c.pk for c in children[1:]
        )
        assert family.model.objects.filter(relevance_note="For the plan").count() == 2
        assert family.model.objects.count() == 3

    @pytest.mark.parametrize("ids", [[], "x", None, [1, 1], [0]])
    def test_empty_repeated_or_junk_ids_are_422(self, alice_api, family, treatment, ids):
        response = alice_api.post(
            family.url(treatment, "bulk"), {f"{family.child}_ids": ids}, format="json"
        )
        assert response.status_code == 422

    def test_one_foreign_record_refuses_all(self, alice_api, family, treatment, patient, alice):
        mine = family.factory(patient=patient)
        elsewhere = family.factory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            family.url(treatment, "bulk"),
            {f"{family.child}_ids": [mine.pk, elsewhere.pk]},
            format="json",
        )
        assert response.status_code == 400
        assert not family.model.objects.exists()


class TestAccess:
    def test_view_share_reads_but_cannot_write(self, client_for, bob, family, shared_patient):
        treatment = TreatmentFactory(patient=shared_patient)
        child = family.factory(patient=shared_patient)
        link = family.model.objects.create(treatment=treatment, **{family.child: child})
        api = client_for(bob)
        assert [item["id"] for item in api.get(family.url(treatment)).json()] == [link.pk]
        body = {family.child_id: family.factory(patient=shared_patient).pk}
        assert api.post(family.url(treatment), body, format="json").status_code == 403
        bulk = {f"{family.child}_ids": [body[family.child_id]]}
        assert api.post(family.url(treatment, "bulk"), bulk, format="json").status_code == 403
        update = api.put(family.url(treatment, link.pk), family.update, format="json")
        assert update.status_code == 403
        assert api.delete(family.url(treatment, link.pk)).status_code == 403
        assert family.model.objects.count() == 1

    @pytest.mark.parametrize("persona", ["carol", "dave"])
    def test_edit_and_full_shares_link(self, client_for, family, shared_patient, persona, request):
        treatment = TreatmentFactory(patient=shared_patient)
        child = family.factory(patient=shared_patient)
        api = client_for(request.getfixturevalue(persona))
        created = api.post(family.url(treatment), {family.child_id: child.pk}, format="json")
        assert created.status_code == family.created, created.content
        link_id = created.json()["id"]
        assert api.delete(family.url(treatment, link_id)).status_code == 200

    def test_stranger_sees_nothing(self, client_for, mallory, family, treatment, patient):
        child = family.factory(patient=patient)
        link = family.model.objects.create(treatment=treatment, **{family.child: child})
        api = client_for(mallory)
        assert api.get(family.url(treatment)).status_code == 404
        body = {family.child_id: child.pk}
        assert api.post(family.url(treatment), body, format="json").status_code == 404
        assert api.delete(family.url(treatment, link.pk)).status_code == 404
        assert family.model.objects.filter(pk=link.pk).exists()

    def test_link_of_another_treatment_is_404(self, alice_api, family, patient):
        first, second = TreatmentFactory.create_batch(2, patient=patient)
        link = family.model.objects.create(
            treatment=first, **{family.child: family.factory(patient=patient)}
        )
        assert alice_api.delete(family.url(second, link.pk)).status_code == 404
        assert alice_api.put(family.url(second, link.pk), {}, format="json").status_code == 404
        assert family.model.objects.filter(pk=link.pk).exists()


class TestDeletion:
    def test_deleting_either_record_removes_the_link(self, alice_api, family, patient):
        for doomed in ("treatment", family.child):
            treatment = TreatmentFactory(patient=patient)
            child = family.factory(patient=patient)
            family.model.objects.create(treatment=treatment, **{family.child: child})
            record = treatment if doomed == "treatment" else child
            record.delete()
            assert not family.model.objects.exists()


def test_list_queries_do_not_grow_with_rows(alice_api, family, treatment, patient):
    def link(count):
        for child in family.factory.create_batch(count, patient=patient):
            family.model.objects.create(treatment=treatment, **{family.child: child})

    link(2)
    alice_api.get(family.url(treatment))  # warm the per-process caches
    with CaptureQueriesContext(connection) as few:
        assert len(alice_api.get(family.url(treatment)).json()) == 2
    link(18)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get(family.url(treatment)).json()) == 20
    assert len(many) == len(few)


def test_choices_are_read_leniently(alice_api, treatment, patient):
    response = alice_api.post(
        f"/api/v1/treatments/{treatment.pk}/encounters",
        {"encounter_id": EncounterFactory(patient=patient).pk, "visit_label": "Follow-Up"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["visit_label"] == "follow_up"
