"""The fast read path (medikeep/api/representation.py, the JSON renderer, the record viewset's
shortcuts) answers every record type byte for byte as plain DRF does."""

from __future__ import annotations

from importlib import import_module

import factory
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer

from medikeep.api.renderers import FastJSONRenderer
from medikeep.api.representation import FastModelSerializer
from patients.core.views import PatientOwnedViewSet
from records.api.urls import GROUPS
from records.models import Pharmacy, Practitioner
from records.tests.factories import (
    MedicalSpecialtyFactory,
    PharmacyFactory,
    PracticeFactory,
    PractitionerFactory,
)

pytestmark = pytest.mark.django_db

CASES = [
    case for group in GROUPS for case in import_module(f"records.tests.contract.{group}").CASES
]
DIRECTORY_FACTORIES = {Practitioner: PractitionerFactory, Pharmacy: PharmacyFactory}


def plain_drf(monkeypatch) -> None:
    """Switches the fast path off: DRF's own field building, rows, renderer and filtering."""
    monkeypatch.setattr(
        FastModelSerializer, "to_representation", serializers.Serializer.to_representation
    )
    monkeypatch.setattr(
        FastModelSerializer, "get_fields", lambda self: type(self)._build_field_template(self)
    )
    monkeypatch.setattr(FastJSONRenderer, "render", JSONRenderer.render)
    monkeypatch.setattr(PatientOwnedViewSet, "filter_queryset", GenericAPIView.filter_queryset)


def with_links(case) -> dict:
    """Factory arguments that fill the record's practitioner/pharmacy links."""
    return {
        field.name: factory.SubFactory(DIRECTORY_FACTORIES[field.related_model])
        for field in case.factory._meta.model._meta.concrete_fields
        if field.is_relation and field.related_model in DIRECTORY_FACTORIES
    }


def answers(client, paths) -> list[tuple[str, int, bytes, int]]:
    """(path, status, body, number of queries) for each path."""
    results = []
    for path in paths:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        results.append((path, response.status_code, response.content, len(queries)))
    return results


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.prefix)
def test_every_record_type_answers_as_plain_drf(case, alice_api, patient, monkeypatch):
    plain = case.factory(patient=patient)
    linked = case.factory(patient=patient, **with_links(case))
    base = f"/api/v1/{case.prefix}"
    paths = [
        base,
        f"{base}?patient_id={patient.pk}&skip=1&limit=1",
        f"/api/v1/patients/{patient.pk}/{case.prefix}",
        f"{base}/{plain.pk}",
        f"{base}/{linked.pk}",
    ]
    answers(alice_api, paths)  # warm the per-process caches (content types …)
    fast = answers(alice_api, paths)
    assert all(status == 200 for _, status, _, _ in fast), fast
    plain_drf(monkeypatch)
    assert answers(alice_api, paths) == fast  # the same bytes from the same queries


def test_directory_lists_answer_as_plain_drf(alice_api, monkeypatch):
    PractitionerFactory(practice=PracticeFactory(), specialty=MedicalSpecialtyFactory())
    PharmacyFactory()
    paths = [
        f"/api/v1/{prefix}"
        for prefix in ("practitioners", "pharmacies", "practices", "medical-specialties")
    ]
    answers(alice_api, paths)  # warm the per-process caches (content types …)
    fast = answers(alice_api, paths)
    assert all(status == 200 for _, status, _, _ in fast), fast
    plain_drf(monkeypatch)
    assert answers(alice_api, paths) == fast  # the same bytes from the same queries


def test_the_row_shows_what_drf_shows_for_awkward_values(patient):
    """Values a factory seldom makes: empty, None, non-ASCII, a stand-in dict."""
    from records.api.medications import MedicationSerializer
    from records.tests.factories import MedicationFactory

    record = MedicationFactory(
        patient=patient,
        medication_name="Zolpidème – 5 mg\u2028",
        dosage="",
        reminder_days=None,
        reminder_times=["08:00"],
        tags=["sleep"],
    )
    fast = MedicationSerializer(record).data
    drf = serializers.Serializer.to_representation(MedicationSerializer(record), record)
    assert list(fast.items()) == list(drf.items())
    as_dict = {**fast, "patient_id": patient.pk}  # not a model instance: DRF's own path
    assert MedicationSerializer(as_dict).data["medication_name"] == record.medication_name


def test_fields_are_built_once_per_class_and_copied_per_serializer():
    from records.api.conditions import ConditionSerializer

    first, second = ConditionSerializer(), ConditionSerializer()
    assert first.fields.keys() == second.fields.keys()
    assert first.fields["diagnosis"] is not second.fields["diagnosis"]
    assert first.fields["diagnosis"].parent is first
    # A change to one serializer's field stays there (per-request querysets, pinned zones).
    first.fields["notes"].required = True
    first.fields["notes"].validators.append(lambda value: None)
    first.fields["notes"].error_messages["blank"] = "changed"
    fresh = ConditionSerializer().fields["notes"]
    assert fresh.required is False
    assert len(fresh.validators) == len(second.fields["notes"].validators)
    assert fresh.error_messages["blank"] != "changed"
    # The canonical name that may come under its alias is required on create either way.
    assert "condition_name" in ConditionSerializer._required_by_alias


def test_related_ids_are_looked_up_among_visible_records_built_only_when_used(alice, patient, rf):
    from django.utils.functional import empty
    from rest_framework.request import Request

    from records.api.procedures import ProcedureSerializer
    from records.tests.factories import ConditionFactory, ProcedureFactory

    record = ProcedureFactory(patient=patient, condition=ConditionFactory(patient=patient))
    request = Request(rf.get("/"))
    request.user = alice
    serializer = ProcedureSerializer(record, context={"request": request})
    assert serializer.data["condition_id"] == record.condition_id
    lookup = serializer.fields["condition_id"].queryset
    assert lookup._wrapped is empty  # a response needs no lookup queryset
    # Input looks ids up among the records of patients alice may see (the contract test
    # checks a stranger's id is refused).
    assert " IN (SELECT " in str(lookup.all().query)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_datetimes_are_drfs_in_the_active_timezone(patient, zone):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from records.api.medications import MedicationSerializer
    from records.tests.factories import MedicationFactory

    record = MedicationFactory(patient=patient)
    values = [
        dt.datetime(2024, 3, 1, 8, 30, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(2024, 7, 1, 8, 30, tzinfo=ZoneInfo("Asia/Kolkata")),
        dt.datetime(2024, 3, 10, 7, 30, tzinfo=dt.UTC),  # the New York DST change
        dt.datetime(2024, 3, 1, 8, 30),  # naive: made aware as DRF does
        "2024-03-01T08:30:00Z",  # a text value is passed through
    ]
    with timezone.override(ZoneInfo(zone)):
        for value in values:
            record.created_at = value
            fast = MedicationSerializer(record).data["created_at"]
            drf = serializers.Serializer.to_representation(MedicationSerializer(record), record)
            assert fast == drf["created_at"], value


@pytest.mark.parametrize("path", ["/api/v1/injury-types", "/api/v1/injury-types/dropdown"])
def test_injury_type_lists_do_not_grow_in_queries(alice_api, alice, path):
    from records.tests.factories import InjuryTypeFactory

    InjuryTypeFactory.create_batch(2, created_by=alice)
    alice_api.get(path)  # warm the per-process caches
    with CaptureQueriesContext(connection) as few:
        assert alice_api.get(path).status_code == 200
    InjuryTypeFactory.create_batch(20, created_by=alice)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get(path).json()) >= 22
    assert len(many) == len(few)
