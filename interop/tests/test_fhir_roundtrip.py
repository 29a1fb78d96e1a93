"""Export → import into an empty patient → export gives the same resources, for every kind in
the registry (kinds other maps add join by themselves)."""

from __future__ import annotations

import copy
import re

import pytest

from files.tests.s3server import local_files_storage  # noqa: F401 - a fixture
from interop.fhir.links import link_models
from interop.fhir.maps import map_for_kind
from interop.fhir.maps.base import KIND_TAG_SYSTEM, RECORD_TAG_SYSTEM
from interop.models import ServerIdentity
from interop.tests.conftest import ALL_KINDS, make_records, row_counts
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


SERVER_ID = re.compile(r"(/api/v1/[a-z/-]+/)\d+/")


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
                elif key == "identifier" and ("resourceType" in value or "reference" in value):
                    continue  # contained resources' and references' identifiers too
                elif key == "extension" and isinstance(item, list):
                    # Identifiers of records nested in the resource (family conditions).
                    kept = [
                        walk(e)
                        for e in item
                        if not (isinstance(e, dict) and "valueIdentifier" in e)
                    ]
                    if kept:
                        out[key] = kept
                else:
                    out[key] = walk(item)
            return out
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str):
            # Links to our own endpoints carry row ids (a file's download address).
            return SERVER_ID.sub(r"\1N/", value)
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


# Set by the server, not carried: ids, owners, timestamps, where and how the bytes are stored.
SKIPPED_FIELDS = {
    "id",
    "patient",
    "created_at",
    "updated_at",
    "tag_index",
    "stored_name",
    "uploaded_by",
    "entity_id",
    "trashed_at",
    "trashed_by",
}


def patient_path(item) -> str:
    """The lookup from a row of the map's model to its patient."""
    names = {f.name for f in item.model._meta.concrete_fields}
    if "patient" in names:
        return "patient"
    parent_model = map_for_kind(item.nested_in).model
    fk = next(
        f.name
        for f in item.model._meta.concrete_fields
        if f.is_relation and f.related_model is parent_model
    )
    return f"{fk}__patient"


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
def test_round_trip(alice, alice_api, patient, fhir_export, fhir_import, kind, request):
    if kind == "file":
        request.getfixturevalue("local_files_storage")
    make_records(kind, patient)
    item = map_for_kind(kind)
    query = {"include_file_data": "true"}
    exported = fhir_export(alice_api, patient.pk, **query)
    # A nested kind travels inside its parent's resource.
    carrier = item.nested_in or kind
    assert any(_kind(e["resource"]) == carrier for e in exported["entry"]), kind

    empty = PatientFactory(owner=alice, first_name="Empty", last_name="Patient", gender="")
    ServerIdentity.system()
    before = row_counts()
    dry = fhir_import(alice_api, empty.pk, exported, dry_run=True).json()
    assert row_counts() == before  # the dry run wrote nothing
    response = fhir_import(alice_api, empty.pk, exported)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["counts"] == dry["counts"]  # and it said what the import did
    problems = [
        item
        for item in body["skipped"]
        if item["reason"] != "Directory entry already here (matched by name; not changed)."
    ]
    assert not problems, problems

    again = fhir_export(alice_api, empty.pk, **query)
    assert normalise(again) == normalise(exported)

    if kind == "patient":
        patient.refresh_from_db()
        empty.refresh_from_db()
        source, copied = field_values([patient]), field_values([empty])
        for values in (*source, *copied):
            values.pop("owner"), values.pop("is_self_record")
        assert copied == source
    elif not getattr(item, "directory", False):
        # Every field came across, not only what the comparison of resources shows.
        rows = item.model._default_manager
        path = patient_path(item)
        source = field_values(rows.filter(**{path: patient}))
        copied = field_values(rows.filter(**{path: empty}))
        assert source and copied == source
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
