"""GET /api/v1/patients/{id}/fhir: access, streaming, filters, query count, validation."""

from __future__ import annotations

import datetime

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from files.tests.s3server import local_files_storage  # noqa: F401 - a fixture
from interop.fhir.maps import KIND_TAG_SYSTEM, REGISTRY, map_for_kind
from interop.fhir.maps.care import MAPS as CARE_MAPS
from interop.fhir.maps.clinical import MAPS as CLINICAL_MAPS
from interop.fhir.maps.people import MAPS as PEOPLE_MAPS
from interop.tests.conftest import ALL_KINDS, fhir_url, make_records, read_bundle
from records.models import Immunization
from records.tests import factories as f

pytestmark = pytest.mark.django_db

OUR_KINDS = [m.kind for m in (*PEOPLE_MAPS, *CLINICAL_MAPS, *CARE_MAPS)]


def kinds_of(bundle: dict) -> list[str]:
    out = []
    for entry in bundle["entry"]:
        tags = entry["resource"]["meta"]["tag"]
        out += [t["code"] for t in tags if t["system"] == KIND_TAG_SYSTEM]
    return out


def test_anonymous_is_refused(anon, patient):
    assert anon.get(fhir_url(patient.pk)).status_code == 401


def test_stranger_is_refused_like_the_rest_of_the_api(client_for, mallory, patient):
    response = client_for(mallory).get(fhir_url(patient.pk))
    assert response.status_code == 403
    assert response.json()["status"] == "error"
    assert client_for(mallory).get(fhir_url(999999)).status_code == 404


def test_view_share_exports_a_streamed_collection(client_for, bob, shared_patient):
    f.MedicationFactory(patient=shared_patient)
    response = client_for(bob).get(fhir_url(shared_patient.pk), HTTP_ACCEPT="application/fhir+json")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/fhir+json"
    bundle = read_bundle(response)
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert sorted(kinds_of(bundle)) == ["medication", "patient"]
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"


def test_records_of_other_patients_stay_out(alice_api, patient, fhir_export):
    f.MedicationFactory(patient=patient, medication_name="Mine")
    f.MedicationFactory(medication_name="Someone else's")
    bundle = fhir_export(alice_api, patient.pk)
    names = [
        e["resource"]["medicationCodeableConcept"]["text"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationStatement"
    ]
    assert names == ["Mine"]


def test_ids_are_stable_between_exports(alice_api, patient, fhir_export):
    f.ConditionFactory(patient=patient)
    first = [e["fullUrl"] for e in fhir_export(alice_api, patient.pk)["entry"]]
    assert first == [e["fullUrl"] for e in fhir_export(alice_api, patient.pk)["entry"]]


def test_directory_entries_referenced_come_once(alice_api, patient, fhir_export):
    doctor = f.PractitionerFactory()
    for _ in range(3):
        f.MedicationFactory(patient=patient, practitioner=doctor)
    f.ConditionFactory(patient=patient, practitioner=doctor)
    f.PractitionerFactory(name="Dr. Unrelated")
    kinds = kinds_of(fhir_export(alice_api, patient.pk))
    assert kinds.count("practitioner") == 1
    assert kinds.count("practice") == 1  # the practitioner's practice


def test_type_filter(alice_api, patient, fhir_export):
    f.MedicationFactory(patient=patient, practitioner=f.PractitionerFactory())
    f.ConditionFactory(patient=patient)
    f.InjuryFactory(patient=patient)
    bundle = fhir_export(alice_api, patient.pk, _type="Condition,Practitioner")
    assert sorted(kinds_of(bundle)) == ["condition", "injury", "practitioner"]


def test_unknown_type_is_422(alice_api, patient):
    response = alice_api.get(fhir_url(patient.pk), {"_type": "Condition,Spaceship"})
    assert response.status_code == 422
    assert "Spaceship" in response.json()["error"]


def test_since_filter(alice_api, patient, fhir_export):
    old = f.ConditionFactory(patient=patient, condition_name="Old")
    type(old).objects.filter(pk=old.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=10)
    )
    f.ConditionFactory(patient=patient, condition_name="New")
    since = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    bundle = fhir_export(alice_api, patient.pk, _since=since)
    names = [
        e["resource"]["code"]["text"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Condition"
    ]
    assert names == ["New"]
    assert "patient" in kinds_of(bundle)
    moment = (timezone.now() - datetime.timedelta(days=20)).isoformat()
    assert len(kinds_of(fhir_export(alice_api, patient.pk, _since=moment))) == 3


def test_since_brings_a_parent_whose_child_changed(alice_api, patient, fhir_export):
    """A family member whose condition changed, a lab report with a new component: the parent
    carries or lists its children, so it comes along; untouched parents stay out."""
    long_ago = timezone.now() - datetime.timedelta(days=30)
    member = f.FamilyMemberFactory(patient=patient)
    condition = f.FamilyConditionFactory(patient=patient, family_member=member)
    quiet_member = f.FamilyMemberFactory(patient=patient)
    report = f.LabResultFactory(patient=patient)
    quiet_report = f.LabResultFactory(patient=patient)
    for row in (member, condition, quiet_member, report, quiet_report):
        type(row).objects.filter(pk=row.pk).update(updated_at=long_ago)
    type(condition).objects.filter(pk=condition.pk).update(updated_at=timezone.now())
    component = f.LabTestComponentFactory(patient=patient, lab_result=report)
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    bundle = fhir_export(alice_api, patient.pk, _since=since)
    ours = [
        e["resource"]["identifier"][0]["value"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] != "Patient"
    ]
    assert f"family_member/{member.pk}" in ours
    assert f"lab_result/{report.pk}" in ours
    assert f"lab_test_component/{component.pk}" in ours
    assert f"family_member/{quiet_member.pk}" not in ours
    assert f"lab_result/{quiet_report.pk}" not in ours


@pytest.mark.parametrize("value", ["yesterday", "2024-13-40", "2024-01-01T99:00"])
def test_bad_since_is_422(alice_api, patient, value):
    response = alice_api.get(fhir_url(patient.pk), {"_since": value})
    assert response.status_code == 422
    assert "_since" in response.json()["errors"]


def _seed(patient, count):
    for kind in ALL_KINDS:
        make_records(kind, patient, count=count)


def _queries(alice_api, patient, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit) as captured:
        read_bundle(alice_api.get(fhir_url(patient.pk), {"include_file_data": "true"}))
    return len(captured)


def test_query_count_does_not_grow_with_records(
    alice_api, patient, django_assert_max_num_queries, request
):
    """Every kind of the registry, 2 and then 20 records of each."""
    request.getfixturevalue("local_files_storage")
    _seed(patient, 2)
    _queries(alice_api, patient, django_assert_max_num_queries, 120)  # warms up (server identity)
    few = _queries(alice_api, patient, django_assert_max_num_queries, 120)
    _seed(patient, 18)
    assert Immunization.objects.filter(patient=patient).count() == 20
    many = _queries(alice_api, patient, django_assert_max_num_queries, few)
    assert many <= few


@pytest.mark.parametrize("kind", OUR_KINDS)
def test_every_resource_validates_with_fhir_resources(alice_api, patient, fhir_export, kind):
    make_records(kind, patient)
    bundle = fhir_export(alice_api, patient.pk)
    Bundle.model_validate(bundle)
    assert kind in kinds_of(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_filters_work_for_every_kind(alice_api, patient, fhir_export, request):
    request.getfixturevalue("local_files_storage")
    for kind in ALL_KINDS:
        make_records(kind, patient, count=1)
    everything = fhir_export(alice_api, patient.pk)
    assert {k for k in ALL_KINDS if not map_for_kind(k).nested_in} <= set(kinds_of(everything))
    later = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    # Only the patient and the directory entries it points at (its physician).
    assert set(kinds_of(fhir_export(alice_api, patient.pk, _since=later))) == {
        "patient",
        "practitioner",
        "practice",
    }
    for resource_type in sorted({m.resource_type for m in REGISTRY}):
        bundle = fhir_export(alice_api, patient.pk, _type=resource_type)
        assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {resource_type}


def test_bundle_of_every_kind_validates(alice_api, patient, fhir_export, request):
    """Every kind at once, links between records included (their extensions are added by the
    exporter to any kind's resource)."""
    request.getfixturevalue("local_files_storage")
    for kind in ALL_KINDS:
        make_records(kind, patient, count=2)
    bundle = fhir_export(alice_api, patient.pk, include_file_data="true")
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    links = [
        e["url"]
        for entry in bundle["entry"]
        for e in entry["resource"].get("extension", [])
        if e["url"].startswith("urn:medikeep:link:")
    ]
    assert "urn:medikeep:link:treatmentmedication" in links


def test_file_links_use_the_public_address(
    alice_api,
    patient,
    fhir_export,
    settings,
    local_files_storage,  # noqa: F811 - the fixture imported above
):
    """Behind a proxy the request's host is not what a reader can open: links use
    APP_PUBLIC_URL when it is set, the request's host otherwise."""
    make_records("file", patient, 1)

    def link():
        bundle = fhir_export(alice_api, patient.pk, _type="DocumentReference")
        (entry,) = bundle["entry"]
        return entry["resource"]["content"][0]["attachment"]["url"]

    assert link().startswith("http://testserver/api/v1/entity-files/files/")
    settings.APP_PUBLIC_URL_SET = True
    settings.APP_PUBLIC_URL = "https://health.example.org/"
    assert link().startswith("https://health.example.org/api/v1/entity-files/files/")
