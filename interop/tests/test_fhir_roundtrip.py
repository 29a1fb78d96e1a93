"""Export → import into an empty patient → export gives the same resources, for every kind in
the registry (kinds other maps add join by themselves)."""

from __future__ import annotations

import copy

import pytest

from interop.fhir.links import link_models
from interop.fhir.maps import map_for_kind
from interop.fhir.maps.base import KIND_TAG_SYSTEM, RECORD_TAG_SYSTEM
from interop.tests.conftest import ALL_KINDS, make_records
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def _kind(resource: dict) -> str:
    return next(t["code"] for t in resource["meta"]["tag"] if t["system"] == KIND_TAG_SYSTEM)


def normalise(bundle: dict) -> list[dict]:
    """Resources without what differs between servers and patients: ids, meta (except the
    record tags), fullUrls, identifiers; a reference becomes the referenced resource's kind
    and its position among the resources of that kind."""
    positions: dict[str, str] = {}
    counters: dict[str, int] = {}
    for entry in bundle["entry"]:
        kind = _kind(entry["resource"])
        positions[entry["fullUrl"]] = f"{kind}#{counters.get(kind, 0)}"
        counters[kind] = counters.get(kind, 0) + 1

    def walk(value):
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key == "reference" and isinstance(item, str) and item in positions:
                    out[key] = positions[item]
                elif key == "identifier" and "resourceType" in value:
                    continue  # contained resources' identifiers too
                else:
                    out[key] = walk(item)
            return out
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    resources = []
    for entry in bundle["entry"]:
        resource = copy.deepcopy(entry["resource"])
        tags = sorted(
            t["code"] for t in resource.pop("meta")["tag"] if t["system"] == RECORD_TAG_SYSTEM
        )
        resource.pop("id")
        resource.pop("identifier", None)
        resource = walk(resource)
        resource["_tags"] = tags
        resources.append(resource)
    return sorted(resources, key=repr)


SKIPPED_FIELDS = {"id", "patient", "created_at", "updated_at", "tag_index"}


def field_values(rows) -> list[dict]:
    """The rows' own values: links to other patient records by their target's name only."""
    out = []
    for row in rows:
        values = {}
        for field in row._meta.concrete_fields:
            if field.name in SKIPPED_FIELDS:
                continue
            value = getattr(row, field.attname)
            if field.is_relation and value is not None:
                target = getattr(row, field.name)
                value = (type(target).__name__, str(target))
            values[field.name] = value
        out.append(values)
    return sorted(out, key=repr)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_round_trip(alice, alice_api, patient, fhir_export, fhir_import, kind):
    make_records(kind, patient)
    query = {"include_file_data": "true"}
    exported = fhir_export(alice_api, patient.pk, **query)
    assert any(_kind(e["resource"]) == kind for e in exported["entry"]), kind

    empty = PatientFactory(owner=alice, first_name="Empty", last_name="Patient", gender="")
    response = fhir_import(alice_api, empty.pk, exported)
    assert response.status_code == 200, response.json()
    body = response.json()
    problems = [
        item
        for item in body["skipped"]
        if item["reason"] != "Directory entry already here (matched by name; not changed)."
    ]
    assert not problems, problems

    again = fhir_export(alice_api, empty.pk, **query)
    assert normalise(again) == normalise(exported)

    item = map_for_kind(kind)
    if kind == "patient":
        patient.refresh_from_db()
        empty.refresh_from_db()
        source, copied = field_values([patient]), field_values([empty])
        for values in (*source, *copied):
            values.pop("owner"), values.pop("is_self_record")
        assert copied == source
    elif not getattr(item, "directory", False) and any(
        f.name == "patient" for f in item.model._meta.concrete_fields
    ):
        # Every field came across, not only what the comparison of resources shows.
        source = field_values(item.model._default_manager.filter(patient=patient))
        copied = field_values(item.model._default_manager.filter(patient=empty))
        assert copied == source
        for link_model in link_models():
            side = link_model.link_sides[0]
            if link_model._meta.get_field(side).related_model is item.model:
                rows = link_model._default_manager
                source = field_values(rows.filter(**{f"{side}__patient": patient}))
                copied = field_values(rows.filter(**{f"{side}__patient": empty}))
                assert copied == source, link_model.__name__

    second = fhir_import(alice_api, empty.pk, exported).json()
    assert second["counts"]["created"] == 0, second["created"]
    assert second["counts"]["updated"] == 0, second["updated"]
    assert normalise(fhir_export(alice_api, empty.pk, **query)) == normalise(exported)
