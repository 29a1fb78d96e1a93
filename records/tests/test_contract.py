"""The contract every record type keeps (DESIGN.md §9), run for each registered type."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

import factory
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import PatientShare
from patients.tests.factories import PatientFactory
from records.api.urls import GROUPS
from records.models import Pharmacy, Practitioner
from records.tests.factories import PharmacyFactory, PractitionerFactory

pytestmark = pytest.mark.django_db


CASES = [
    case for group in GROUPS for case in import_module(f"records.tests.contract.{group}").CASES
]
CONTRACT = {case.factory._meta.model: case for case in CASES}
RELATION_CASES = [case for case in CASES if case.relation]
DIRECTORY_FACTORIES = {Practitioner: PractitionerFactory, Pharmacy: PharmacyFactory}


def directory_links(case) -> dict[str, type]:
    """{field: factory} of the record type's links into the practitioner/pharmacy directory."""
    return {
        field.name: DIRECTORY_FACTORIES[field.related_model]
        for field in case.factory._meta.model._meta.concrete_fields
        if field.is_relation and field.related_model in DIRECTORY_FACTORIES
    }


DIRECTORY_CASES = [case for case in CASES if directory_links(case)]


@pytest.fixture(params=CASES, ids=lambda case: case.prefix)
def case(request):
    return request.param


def url(case, record=None):
    return f"/api/v1/{case.prefix}" + (f"/{record.pk}" if record else "")


def field_of(case) -> str:
    return next(iter(case.update))


class TestReading:
    def test_owner_lists_only_the_target_patients_records(self, case, alice_api, patient, alice):
        mine = case.factory.create_batch(2, patient=patient)
        other_own_patient = PatientFactory(owner=alice)
        case.factory(patient=other_own_patient)
        case.factory()  # somebody else's
        response = alice_api.get(url(case))
        assert response.status_code == 200
        assert sorted(item["id"] for item in response.json()) == sorted(r.pk for r in mine)
        by_query = alice_api.get(url(case), {"patient_id": other_own_patient.pk}).json()
        assert len(by_query) == 1 and by_query[0]["patient_id"] == other_own_patient.pk

    def test_nested_and_by_patient_paths(self, case, alice_api, patient):
        record = case.factory(patient=patient)
        for path in (
            f"/api/v1/patients/{patient.pk}/{case.prefix}",
            f"/api/v1/{case.prefix}/patient/{patient.pk}",
        ):
            response = alice_api.get(path)
            assert response.status_code == 200, path
            assert [item["id"] for item in response.json()] == [record.pk]

    def test_view_share_reads(self, case, client_for, bob, shared_patient):
        record = case.factory(patient=shared_patient)
        api = client_for(bob)
        assert api.get(url(case, record)).json()["id"] == record.pk
        listed = api.get(url(case), {"patient_id": shared_patient.pk}).json()
        assert [item["id"] for item in listed] == [record.pk]

    def test_stranger_gets_404_on_records_and_403_on_the_patient(
        self, case, client_for, mallory, patient
    ):
        record = case.factory(patient=patient)
        api = client_for(mallory)
        for method in ("get", "put", "delete"):
            assert getattr(api, method)(url(case, record), {}, format="json").status_code == 404
        assert api.get(url(case), {"patient_id": patient.pk}).status_code == 403
        assert api.get(f"/api/v1/patients/{patient.pk}/{case.prefix}").status_code == 403
        assert case.factory._meta.model.objects.filter(pk=record.pk).exists()

    def test_admin_has_no_implicit_access(self, case, client_for, admin_user, patient):
        record = case.factory(patient=patient)
        api = client_for(admin_user)
        assert api.get(url(case, record)).status_code == 404
        assert api.get(url(case), {"patient_id": patient.pk}).status_code == 403

    def test_expired_share_gives_nothing(self, case, client_for, bob, shared_patient):
        record = case.factory(patient=shared_patient)
        PatientShare.objects.filter(grantee=bob).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        api = client_for(bob)
        assert api.get(url(case, record)).status_code == 404
        assert api.get(url(case), {"patient_id": shared_patient.pk}).status_code == 403

    def test_share_with_future_expiry_works(self, case, client_for, bob, shared_patient):
        record = case.factory(patient=shared_patient)
        PatientShare.objects.filter(grantee=bob).update(
            expires_at=timezone.now() + timedelta(days=1)
        )
        assert client_for(bob).get(url(case, record)).status_code == 200

    def test_anonymous_is_401(self, case, anon, patient):
        record = case.factory(patient=patient)
        assert anon.get(url(case)).status_code == 401
        assert anon.get(url(case, record)).status_code == 401

    def test_unknown_patient_is_404(self, case, alice_api, patient):
        assert alice_api.get(url(case), {"patient_id": 999999}).status_code == 404


class TestWriting:
    def test_owner_creates_updates_deletes(self, case, alice_api, patient):
        created = alice_api.post(url(case), case.body(patient), format="json")
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["patient_id"] == patient.pk
        record = case.factory._meta.model.objects.get(pk=body["id"])
        updated = alice_api.put(url(case, record), case.update, format="json")
        assert updated.status_code == 200, updated.content
        record.refresh_from_db()
        name = field_of(case)
        assert getattr(record, name) == case.update[name]
        assert alice_api.delete(url(case, record)).status_code in (200, 204)
        assert not case.factory._meta.model.objects.filter(pk=record.pk).exists()

    def test_create_through_the_nested_path(self, case, alice_api, alice):
        second = PatientFactory(owner=alice)
        response = alice_api.post(
            f"/api/v1/patients/{second.pk}/{case.prefix}", case.body(second), format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["patient_id"] == second.pk

    def test_view_share_cannot_write(self, case, client_for, bob, shared_patient):
        record = case.factory(patient=shared_patient)
        api = client_for(bob)
        body = case.body(shared_patient, patient_id=shared_patient.pk)
        assert api.post(url(case), body, format="json").status_code == 403
        assert api.put(url(case, record), case.update, format="json").status_code == 403
        assert api.delete(url(case, record)).status_code == 403
        model = case.factory._meta.model
        assert model.objects.filter(patient=shared_patient).count() == 1
        record.refresh_from_db()
        assert getattr(record, field_of(case)) != case.update[field_of(case)]

    @pytest.mark.parametrize("persona", ["carol", "dave"])
    def test_edit_and_full_shares_write(self, case, client_for, shared_patient, persona, request):
        api = client_for(request.getfixturevalue(persona))
        body = case.body(shared_patient, patient_id=shared_patient.pk)
        created = api.post(url(case), body, format="json")
        assert created.status_code == 201, created.content
        record = case.factory._meta.model.objects.get(pk=created.json()["id"])
        assert api.put(url(case, record), case.update, format="json").status_code == 200
        assert api.delete(url(case, record)).status_code in (200, 204)

    def test_foreign_patient_id_is_refused(self, case, alice_api, patient, mallory):
        theirs = PatientFactory(owner=mallory)
        body = case.body(patient, patient_id=theirs.pk)
        response = alice_api.post(url(case), body, format="json")
        assert response.status_code == 403
        assert not case.factory._meta.model.objects.filter(patient=theirs).exists()

    def test_update_never_moves_a_record(self, case, alice_api, patient, alice):
        record = case.factory(patient=patient)
        other = PatientFactory(owner=alice)
        alice_api.put(url(case, record), {"patient_id": other.pk}, format="json")
        record.refresh_from_db()
        assert record.patient_id == patient.pk

    def test_invalid_input_is_422_naming_the_fields(self, case, alice_api, patient):
        response = alice_api.post(url(case), case.body(patient, **case.invalid), format="json")
        assert response.status_code == 422
        assert set(case.invalid) <= set(response.json()["errors"])
        assert not case.factory._meta.model.objects.exists()

    @pytest.mark.parametrize("case", RELATION_CASES, ids=lambda c: c.prefix)
    def test_cross_patient_relation_is_refused(self, case, alice_api, patient, alice):
        name, related_factory = case.relation
        elsewhere = related_factory(patient=PatientFactory(owner=alice))
        response = alice_api.post(url(case), {**case.create, name: elsewhere.pk}, format="json")
        assert response.status_code == 400
        same = related_factory(patient=patient)
        ok = alice_api.post(url(case), {**case.create, name: same.pk}, format="json")
        assert ok.status_code == 201 and ok.json()[name] == same.pk

    @pytest.mark.parametrize("case", RELATION_CASES, ids=lambda c: c.prefix)
    def test_strangers_related_record_is_invisible(self, case, alice_api, patient):
        name, related_factory = case.relation
        response = alice_api.post(
            url(case), {**case.create, name: related_factory().pk}, format="json"
        )
        assert response.status_code == 422 and name in response.json()["errors"]


@pytest.mark.parametrize("case", DIRECTORY_CASES, ids=lambda c: c.prefix)
class TestDirectoryLinks:
    """Records that name a practitioner (or pharmacy) show its summary and outlive it."""

    def test_created_with_summaries(self, case, alice_api, patient):
        entries = {name: make() for name, make in directory_links(case).items()}
        ids = {f"{name}_id": entry.pk for name, entry in entries.items()}
        response = alice_api.post(url(case), case.body(patient, **ids), format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        for name, entry in entries.items():
            assert body[f"{name}_id"] == entry.pk
            assert body[name]["id"] == entry.pk and body[name]["name"] == entry.name
        if "practitioner" in entries:
            specialty = entries["practitioner"].specialty.name
            assert body["practitioner"]["specialty"] == specialty

    def test_unknown_entry_is_422(self, case, alice_api, patient):
        for name in directory_links(case):
            body = case.body(patient, **{f"{name}_id": 999999})
            response = alice_api.post(url(case), body, format="json")
            assert response.status_code == 422, response.content
            assert f"{name}_id" in response.json()["errors"]
        assert not case.factory._meta.model.objects.exists()

    def test_changed_and_cleared_on_update(self, case, alice_api, patient):
        record = case.factory(patient=patient)
        for name, make in directory_links(case).items():
            entry = make()
            changed = alice_api.put(url(case, record), {f"{name}_id": entry.pk}, format="json")
            assert changed.status_code == 200 and changed.json()[name]["id"] == entry.pk
            cleared = alice_api.put(url(case, record), {f"{name}_id": None}, format="json")
            assert cleared.status_code == 200 and cleared.json()[name] is None

    def test_deleting_the_entry_keeps_the_record(self, case, alice_api, patient):
        links = {name: make() for name, make in directory_links(case).items()}
        record = case.factory(patient=patient, **links)
        for entry in links.values():
            entry.delete()
        response = alice_api.get(url(case, record))
        assert response.status_code == 200
        for name in links:
            assert response.json()[name] is None and response.json()[f"{name}_id"] is None


def test_list_queries_do_not_grow_with_rows(case, alice_api, patient):
    # Every row names its own practitioner/pharmacy, so a missing join would show.
    links = {name: factory.SubFactory(make) for name, make in directory_links(case).items()}
    case.factory.create_batch(2, patient=patient, **links)
    alice_api.get(url(case))  # warm the per-process caches (content types, …)
    with CaptureQueriesContext(connection) as few:
        assert len(alice_api.get(url(case)).json()) == 2
    case.factory.create_batch(18, patient=patient, **links)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get(url(case)).json()) == 20
    assert len(many) == len(few)
