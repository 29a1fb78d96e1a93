"""/injuries: fields, filters, the active path, and the links to medications, conditions,
treatments and procedures."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.models import (
    Injury,
    InjuryCondition,
    InjuryMedication,
    InjuryProcedure,
    InjuryTreatment,
)
from records.tests.factories import (
    ConditionFactory,
    InjuryFactory,
    InjuryTypeFactory,
    MedicationFactory,
    PractitionerFactory,
    ProcedureFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/injuries"

SPEC_BODY = {
    "injury_name": "Left Ankle Sprain",
    "body_part": "Ankle",
    "laterality": "left",
    "date_of_injury": "2025-10-01",
    "mechanism": "Twisted while running",
    "severity": "moderate",
    "status": "active",
    "treatment_received": "Ice, compression, elevation",
    "recovery_notes": "Improving with physical therapy",
    "notes": "Patient advised to avoid running for 2 weeks",
    "tags": ["sports", "acute"],
}


def create(api, **fields):
    return api.post(URL, {**SPEC_BODY, **fields}, format="json")


class TestFields:
    def test_the_contracts_example(self, alice_api, patient):
        sprain = InjuryTypeFactory(name="Sprain")
        doctor = PractitionerFactory()
        response = create(
            alice_api, patient_id=patient.pk, injury_type_id=sprain.pk, practitioner_id=doctor.pk
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["patient_id"] == patient.pk
        assert body["injury_type_id"] == sprain.pk
        assert body["injury_type"]["name"] == "Sprain"
        assert body["injury_type"]["is_system"] is False
        for name in ("injury_name", "body_part", "mechanism", "treatment_received", "notes"):
            assert body[name] == SPEC_BODY[name]
        assert body["tags"] == ["sports", "acute"]
        fetched = alice_api.get(f"{URL}/{body['id']}").json()
        assert fetched["injury_type"]["id"] == sprain.pk

    def test_minimal_body_and_defaults(self, alice_api, patient):
        response = alice_api.post(
            URL, {"injury_name": "Burned hand", "body_part": "Hand"}, format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["status"] == "active"
        assert body["injury_type"] is None and body["injury_type_id"] is None
        assert body["laterality"] == "" and body["date_of_injury"] is None

    @pytest.mark.parametrize(
        ("field", "sent", "stored"),
        [
            ("laterality", "Not Applicable", "not_applicable"),
            ("laterality", "BILATERAL", "bilateral"),
            ("severity", "Life-Threatening", "life-threatening"),
            ("severity", "life_threatening", "life-threatening"),
            ("status", "Healing", "healing"),
        ],
    )
    def test_choices_in_any_letter_case(self, alice_api, patient, field, sent, stored):
        response = create(alice_api, **{field: sent})
        assert response.status_code == 201, response.content
        assert response.json()[field] == stored

    def test_put_applies_only_the_fields_sent(self, alice_api, patient):
        record = InjuryFactory(patient=patient, injury_name="Wrist fracture", body_part="Wrist")
        fracture = InjuryTypeFactory(name="Fracture")
        response = alice_api.put(
            f"{URL}/{record.pk}",
            {"status": "resolved", "injury_type_id": fracture.pk},
            format="json",
        )
        assert response.status_code == 200, response.content
        record.refresh_from_db()
        assert record.status == "resolved" and record.injury_type == fracture
        assert record.injury_name == "Wrist fracture"
        cleared = alice_api.put(f"{URL}/{record.pk}", {"injury_type_id": None}, format="json")
        assert cleared.status_code == 200 and cleared.json()["injury_type"] is None

    def test_delete_answers_with_a_message(self, alice_api, patient):
        record = InjuryFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Injury deleted successfully"}
        assert not Injury.objects.exists()


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"injury_name": None}, "injury_name"),
            ({"injury_name": "x"}, "injury_name"),
            ({"injury_name": "x" * 301}, "injury_name"),
            ({"body_part": ""}, "body_part"),
            ({"body_part": "x" * 101}, "body_part"),
            ({"laterality": "middle"}, "laterality"),
            ({"severity": "critical"}, "severity"),
            ({"status": "gone"}, "status"),
            ({"status": 3}, "status"),
            ({"date_of_injury": "2999-01-01"}, "date_of_injury"),
            ({"date_of_injury": "2025-02-30"}, "date_of_injury"),
            ({"mechanism": "x" * 501}, "mechanism"),
            ({"treatment_received": "x" * 2001}, "treatment_received"),
            ({"recovery_notes": "x" * 2001}, "recovery_notes"),
            ({"notes": "x" * 2001}, "notes"),
            ({"tags": "not-a-list"}, "tags"),
            ({"tags": [f"t{i}" for i in range(16)]}, "tags"),
            ({"injury_type_id": 999999}, "injury_type_id"),
            ({"injury_type_id": "abc"}, "injury_type_id"),
            ({"injury_type_id": 2**70}, "injury_type_id"),
        ],
    )
    def test_bad_values_are_422_with_the_field(self, alice_api, patient, fields, field):
        response = create(alice_api, **fields)
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not Injury.objects.exists()

    @pytest.mark.parametrize("missing", ["injury_name", "body_part"])
    def test_required_fields(self, alice_api, patient, missing):
        body = {k: v for k, v in SPEC_BODY.items() if k != missing}
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 422 and missing in response.json()["errors"]


class TestListing:
    def test_filters(self, alice_api, patient):
        fracture = InjuryTypeFactory(name="Fracture")
        broken = InjuryFactory(
            patient=patient, injury_type=fracture, status="healing", tags=["sports", "bone"]
        )
        burn = InjuryFactory(patient=patient, status="active", tags=["kitchen"])
        InjuryFactory(patient=patient, status="resolved")

        def ids(**params):
            response = alice_api.get(URL, params)
            assert response.status_code == 200, response.content
            return {item["id"] for item in response.json()}

        assert ids(status="healing") == {broken.pk}
        assert ids(status="Active") == {burn.pk}
        assert ids(injury_type_id=fracture.pk) == {broken.pk}
        assert ids(tags="sports,kitchen") == {broken.pk, burn.pk}
        assert ids(tags="sports,kitchen", tag_match_all="true") == set()
        assert ids(tags="sports,bone", tag_match_all="true") == {broken.pk}

    @pytest.mark.parametrize("junk", ["abc", "1.5", str(2**70)])
    def test_junk_type_filter_is_422(self, alice_api, patient, junk):
        assert alice_api.get(URL, {"injury_type_id": junk}).status_code == 422

    def test_limit_is_capped_at_100(self, alice_api, patient):
        InjuryFactory.create_batch(3, patient=patient)
        assert len(alice_api.get(URL, {"limit": 1000}).json()) == 3
        assert len(alice_api.get(URL, {"limit": 2}).json()) == 2

    def test_list_with_types_keeps_its_query_count(self, alice_api, patient):
        def listed():
            with CaptureQueriesContext(connection) as queries:
                response = alice_api.get(URL)
            return len(response.json()), len(queries)

        InjuryFactory(patient=patient, injury_type=InjuryTypeFactory())
        alice_api.get(URL)
        rows, few = listed()
        for _ in range(5):
            InjuryFactory(patient=patient, injury_type=InjuryTypeFactory())
        rows_after, many = listed()
        assert (rows, rows_after) == (1, 6) and many == few

    def test_active_for_patient(self, alice_api, patient):
        active = InjuryFactory(patient=patient, status="active")
        InjuryFactory(patient=patient, status="healing")
        InjuryFactory(status="active")  # somebody else's
        response = alice_api.get(f"{URL}/patient/{patient.pk}/active")
        assert response.status_code == 200
        assert [item["id"] for item in response.json()] == [active.pk]

    def test_active_path_access(self, client_for, bob, mallory, shared_patient):
        InjuryFactory(patient=shared_patient, status="active")
        path = f"{URL}/patient/{shared_patient.pk}/active"
        assert len(client_for(bob).get(path).json()) == 1
        assert client_for(mallory).get(path).status_code == 403
        assert client_for(mallory).get(f"{URL}/patient/999999/active").status_code == 404


# --- links ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    segment: str
    child: str
    factory: type
    model: type
    label: str
    name_field: str


LINKS = [
    Link(
        "medications",
        "medication",
        MedicationFactory,
        InjuryMedication,
        "Medication",
        "medication_name",
    ),
    Link(
        "conditions", "condition", ConditionFactory, InjuryCondition, "Condition", "condition_name"
    ),
    Link(
        "treatments", "treatment", TreatmentFactory, InjuryTreatment, "Treatment", "treatment_name"
    ),
    Link(
        "procedures", "procedure", ProcedureFactory, InjuryProcedure, "Procedure", "procedure_name"
    ),
]


@pytest.fixture(params=LINKS, ids=lambda link: link.segment)
def link(request):
    return request.param


@pytest.fixture
def injury(patient):
    return InjuryFactory(patient=patient, injury_name="Left ankle sprain")


def links_url(injury, link):
    return f"{URL}/{injury.pk}/{link.segment}"


def child_id(link):
    return f"{link.child}_id"


class TestLinks:
    def test_link_list_update_unlink(self, alice_api, injury, patient, link):
        record = link.factory(patient=patient)
        created = alice_api.post(
            links_url(injury, link),
            {child_id(link): record.pk, "relevance_note": "Pain management"},
            format="json",
        )
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["injury_id"] == injury.pk and body[child_id(link)] == record.pk
        assert body["relevance_note"] == "Pain management"
        assert body[link.child][link.name_field] == getattr(record, link.name_field)
        listed = alice_api.get(links_url(injury, link))
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()] == [body["id"]]
        # One link is addressed by the linked record's id, as the contract has it.
        item = f"{links_url(injury, link)}/{record.pk}"
        updated = alice_api.put(item, {"relevance_note": "Second line"}, format="json")
        assert updated.status_code == 200, updated.content
        assert updated.json()["relevance_note"] == "Second line"
        deleted = alice_api.delete(item)
        assert deleted.status_code == 200
        assert deleted.json()["message"] == f"{link.label} unlinked from injury"
        assert not link.model.objects.exists()
        assert type(record).objects.filter(pk=record.pk).exists()  # only the link went

    def test_trailing_slash_paths(self, alice_api, injury, patient, link):
        record = link.factory(patient=patient)
        created = alice_api.post(
            f"{links_url(injury, link)}/", {child_id(link): record.pk}, format="json"
        )
        assert created.status_code == 201, created.content
        assert len(alice_api.get(f"{links_url(injury, link)}/").json()) == 1
        assert alice_api.delete(f"{links_url(injury, link)}/{record.pk}/").status_code == 200

    def test_twice_is_400(self, alice_api, injury, patient, link):
        body = {child_id(link): link.factory(patient=patient).pk}
        assert alice_api.post(links_url(injury, link), body, format="json").status_code == 201
        again = alice_api.post(links_url(injury, link), body, format="json")
        assert again.status_code == 400 and "already linked" in again.json()["error"]
        assert link.model.objects.count() == 1

    def test_another_patients_record_is_400(self, alice_api, injury, alice, link):
        elsewhere = link.factory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            links_url(injury, link), {child_id(link): elsewhere.pk}, format="json"
        )
        assert response.status_code == 400
        assert "different patient" in response.json()["error"]
        assert not link.model.objects.exists()

    def test_invisible_or_missing_records_are_404(self, alice_api, injury, link):
        for record_id in (link.factory().pk, 999999):
            response = alice_api.post(
                links_url(injury, link), {child_id(link): record_id}, format="json"
            )
            assert response.status_code == 404
        missing_injury = f"{URL}/999999/{link.segment}"
        assert alice_api.get(missing_injury).status_code == 404

    @pytest.mark.parametrize(
        "body",
        [{}, {"X": 1}, {"relevance_note": "x" * 501}, {"ID": "abc"}, {"ID": 2**70}, {"ID": 0}],
    )
    def test_bad_input_is_422(self, alice_api, injury, patient, link, body):
        record = link.factory(patient=patient)
        body = {child_id(link) if k == "ID" else k: v for k, v in body.items()}
        if "relevance_note" in body:
            body[child_id(link)] = record.pk
        response = alice_api.post(links_url(injury, link), body, format="json")
        assert response.status_code == 422, response.content
        assert not link.model.objects.exists()

    def test_unlinking_a_record_that_is_not_linked_is_404(self, alice_api, injury, patient, link):
        linked, unlinked = link.factory.create_batch(2, patient=patient)
        link.model.objects.create(injury=injury, **{link.child: linked})
        other_injury = InjuryFactory(patient=patient)
        assert alice_api.delete(f"{links_url(injury, link)}/{unlinked.pk}").status_code == 404
        assert alice_api.delete(f"{links_url(injury, link)}/{10**30}").status_code == 404
        assert alice_api.delete(f"{links_url(other_injury, link)}/{linked.pk}").status_code == 404
        assert link.model.objects.count() == 1

    def test_bulk_links_skip_existing(self, alice_api, injury, patient, link):
        records = link.factory.create_batch(3, patient=patient)
        link.model.objects.create(injury=injury, **{link.child: records[0]})
        response = alice_api.post(
            f"{links_url(injury, link)}/bulk",
            {f"{link.child}_ids": [r.pk for r in records], "relevance_note": "All of them"},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert len(response.json()) == 2
        assert link.model.objects.filter(injury=injury).count() == 3

    def test_deleting_either_side_removes_the_link(self, injury, patient, link):
        first, second = link.factory.create_batch(2, patient=patient)
        link.model.objects.create(injury=injury, **{link.child: first})
        link.model.objects.create(injury=InjuryFactory(patient=patient), **{link.child: second})
        first.delete()
        assert link.model.objects.count() == 1
        link.model.objects.get().injury.delete()
        assert not link.model.objects.exists()


class TestLinkAccess:
    def test_view_share_reads_but_cannot_write(self, client_for, bob, shared_patient, link):
        injury = InjuryFactory(patient=shared_patient)
        record, other = link.factory.create_batch(2, patient=shared_patient)
        link.model.objects.create(injury=injury, **{link.child: record})
        api = client_for(bob)
        assert len(api.get(links_url(injury, link)).json()) == 1
        body = {child_id(link): other.pk}
        assert api.post(links_url(injury, link), body, format="json").status_code == 403
        item = f"{links_url(injury, link)}/{record.pk}"
        assert api.put(item, {"relevance_note": "x"}, format="json").status_code == 403
        assert api.delete(item).status_code == 403
        bulk = {f"{link.child}_ids": [other.pk]}
        assert api.post(f"{links_url(injury, link)}/bulk", bulk, format="json").status_code == 403
        assert link.model.objects.count() == 1

    @pytest.mark.parametrize("persona", ["carol", "dave"])
    def test_edit_and_full_shares_link(self, client_for, shared_patient, link, persona, request):
        injury = InjuryFactory(patient=shared_patient)
        record = link.factory(patient=shared_patient)
        api = client_for(request.getfixturevalue(persona))
        created = api.post(links_url(injury, link), {child_id(link): record.pk}, format="json")
        assert created.status_code == 201
        assert api.delete(f"{links_url(injury, link)}/{record.pk}").status_code == 200

    def test_stranger_sees_nothing(self, client_for, mallory, patient, link):
        injury = InjuryFactory(patient=patient)
        record = link.factory(patient=patient)
        link.model.objects.create(injury=injury, **{link.child: record})
        api = client_for(mallory)
        assert api.get(links_url(injury, link)).status_code == 404
        body = {child_id(link): record.pk}
        assert api.post(links_url(injury, link), body, format="json").status_code == 404
        assert api.delete(f"{links_url(injury, link)}/{record.pk}").status_code == 404
        assert link.model.objects.count() == 1

    def test_anonymous_is_401(self, anon, patient, link):
        injury = InjuryFactory(patient=patient)
        assert anon.get(links_url(injury, link)).status_code == 401
