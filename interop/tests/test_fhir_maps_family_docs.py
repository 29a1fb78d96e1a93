"""The family-history map (FamilyMemberHistory with its conditions nested) and the file map
(DocumentReference): valid FHIR R4, read back into the same values, a copy exports the same
resource; foreign resources read sensibly; bad ones are refused with a reason."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import date

import pytest
from fhir.resources.R4B import get_fhir_model_class

from files import services, storage
from files.entity_types import find_type
from files.models import EntityFile
from files.tests.helpers import HTML, PDF, png_bytes, upload_of
from files.tests.s3server import local_files_storage  # noqa: F401 - a fixture
from interop.fhir.maps import documents
from interop.fhir.maps.base import CannotImport, ExportContext, ImportContext
from interop.fhir.maps.documents import FileMap
from interop.fhir.maps.family import FamilyConditionMap, FamilyMemberMap
from interop.models import ExternalIdentifier, ServerIdentity
from patients.tests.factories import PatientFactory
from records.models import FamilyCondition, FamilyMember
from records.tests.factories import (
    ConditionFactory,
    FamilyConditionFactory,
    FamilyMemberFactory,
    LabResultFactory,
    VitalsFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx():
    return ExportContext(
        system=ServerIdentity.system(), base_url="http://testserver", namespace=uuid.uuid4()
    )


def validated(resource: dict) -> dict:
    data = json.loads(json.dumps(resource))
    get_fhir_model_class(data["resourceType"]).model_validate(data)
    return data


def exported(fmap, record, ctx) -> dict:
    row = fmap.queryset(fmap.model.objects.filter(pk=record.pk)).get()
    return validated(fmap.to_resource(row, ctx))


# --- family history ---------------------------------------------------------------------------


def _without_ids(resource: dict) -> dict:
    out = {k: v for k, v in resource.items() if k not in ("id", "identifier", "meta")}
    out["condition"] = [
        {**c, "extension": [e for e in c["extension"] if "valueIdentifier" not in e]}
        for c in out.get("condition", [])
    ]
    return out


def _copy_member(parsed, patient) -> FamilyMember:
    member = FamilyMember(patient=patient, **parsed.fields)
    member.full_clean()
    member.save()
    for child_map, child in parsed.children:
        assert child_map.kind == "family_condition"
        assert child.parent_field == "family_member"
        condition = FamilyCondition(patient=patient, family_member=member, **child.fields)
        condition.full_clean()
        condition.save()
    return member


def test_family_member_with_conditions(ctx):
    member = FamilyMemberFactory(
        name="John Doe",
        relationship="paternal_grandfather",
        gender="male",
        birth_date=date(1931, 4, 5),
        birth_year=None,
        is_deceased=True,
        death_date=date(1999, 12, 1),
        medical_history="Smoked for 40 years",
        notes="From the family bible",
    )
    full = FamilyConditionFactory(
        patient=member.patient,
        family_member=member,
        condition_name="Lung cancer",
        condition_type="cancer",
        diagnosis_age=66,
        severity="life-threatening",
        status="resolved",
        icd10_code="C34.9",
        notes="Cause of death",
    )
    bare = FamilyConditionFactory(
        patient=member.patient,
        family_member=member,
        condition_name="Gout",
        condition_type="",
        diagnosis_age=None,
    )
    ctx.kept[("family_condition", bare.pk)] = [{"system": "urn:other", "value": "c-1"}]
    resource = exported(FamilyMemberMap(), member, ctx)
    assert resource["relationship"]["coding"][0]["code"] == "PGRFTH"
    assert resource["bornDate"] == "1931-04-05"
    assert resource["deceasedDate"] == "1999-12-01"
    assert resource["condition"][0]["onsetAge"]["code"] == "a"
    assert resource["condition"][0]["code"]["coding"][0]["code"] == "C34.9"

    parsed = FamilyMemberMap().to_fields(resource)
    for name in (
        "name",
        "relationship",
        "gender",
        "birth_date",
        "birth_year",
        "is_deceased",
        "death_date",
        "death_year",
        "medical_history",
        "notes",
    ):
        assert parsed.fields[name] == getattr(member, name), name
    conditions = [child for _map, child in parsed.children]
    assert conditions[0].identifiers == [(ctx.system, f"family_condition/{full.pk}")]
    assert conditions[1].identifiers == [
        (ctx.system, f"family_condition/{bare.pk}"),
        ("urn:other", "c-1"),
    ]
    for row, child in zip((full, bare), conditions, strict=True):
        for name in (
            "condition_name",
            "condition_type",
            "diagnosis_age",
            "severity",
            "status",
            "icd10_code",
            "notes",
        ):
            assert child.fields[name] == getattr(row, name), name

    copy = _copy_member(parsed, member.patient)
    assert _without_ids(exported(FamilyMemberMap(), copy, ctx)) == _without_ids(resource)


@pytest.mark.parametrize(
    ("fields", "born", "deceased"),
    [
        ({"birth_year": 1950}, {"bornDate": "1950"}, {}),
        (
            {"birth_year": 1940, "is_deceased": True, "death_year": 2001},
            {"bornDate": "1940"},
            {"deceasedDate": "2001"},
        ),
        ({"birth_year": None, "is_deceased": True}, {}, {"deceasedBoolean": True}),
    ],
)
def test_family_member_years(ctx, fields, born, deceased):
    member = FamilyMemberFactory(relationship="other", **fields)
    resource = exported(FamilyMemberMap(), member, ctx)
    for key, value in {**born, **deceased}.items():
        assert resource[key] == value
    assert resource["relationship"]["coding"][0]["code"] == "FAMMEMB"
    copy = _copy_member(FamilyMemberMap().to_fields(resource), member.patient)
    for name in ("birth_date", "birth_year", "is_deceased", "death_date", "death_year"):
        assert getattr(copy, name) == getattr(member, name), name
    assert _without_ids(exported(FamilyMemberMap(), copy, ctx)) == _without_ids(resource)


def test_foreign_family_history_reads_sensibly():
    resource = {
        "resourceType": "FamilyMemberHistory",
        "status": "completed",
        "patient": {"reference": "Patient/1"},
        "relationship": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "NMTH"}
            ]
        },
        "sex": {
            "coding": [{"system": "http://hl7.org/fhir/administrative-gender", "code": "female"}]
        },
        "bornString": "1948?",
        "deceasedAge": {"value": 70, "unit": "a"},
        "condition": [
            {
                "code": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/sid/icd-10-cm",
                            "code": "c50.9",
                            "display": "Breast cancer",
                        }
                    ]
                },
                "onsetRange": {"low": {"value": 52.4, "unit": "a"}},
            },
            {"code": {}},
        ],
    }
    fmap = FamilyMemberMap()
    assert fmap.claims(resource)
    assert not FamilyConditionMap().claims(resource)
    parsed = fmap.to_fields(resource)
    assert parsed.fields["name"] == "Mother"
    assert parsed.fields["relationship"] == "mother"
    assert parsed.fields["gender"] == "female"
    assert parsed.fields["birth_year"] == 1948
    assert parsed.fields["is_deceased"] is True
    [(child_map, child)] = parsed.children
    assert child.fields["condition_name"] == "Breast cancer"
    assert child.fields["icd10_code"] == "C50.9"
    assert child.fields["diagnosis_age"] == 52
    assert child.identifiers == []
    assert any("condition was left out" in w for w in parsed.warnings)


def test_unknown_relationship_is_kept_as_other():
    parsed = FamilyMemberMap().to_fields(
        {
            "resourceType": "FamilyMemberHistory",
            "name": "Godmother",
            "relationship": {"text": "godmother"},
        }
    )
    assert parsed.fields["relationship"] == "other"
    assert parsed.warnings


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ({"resourceType": "FamilyMemberHistory"}, "neither a name nor a relationship"),
        (
            {"resourceType": "FamilyMemberHistory", "status": "entered-in-error", "name": "X"},
            "entered in error",
        ),
        (
            {"resourceType": "FamilyMemberHistory", "name": "X", "bornDate": "1950-02-31"},
            "not a FHIR date",
        ),
        ({"resourceType": "FamilyMemberHistory", "name": "X", "condition": "cancer"}, "be read"),
        ({"resourceType": "Patient"}, "not a FamilyMemberHistory"),
    ],
)
def test_bad_family_histories_are_refused(resource, reason):
    with pytest.raises(CannotImport, match=reason):
        FamilyMemberMap().to_fields(resource)


# --- files --------------------------------------------------------------------------------------


@pytest.fixture
def uploaded(local_files_storage):  # noqa: F811 - the fixture imported above
    """upload(record, name, content, **fields) -> an EntityFile stored like an upload."""

    def upload(record, name="report.pdf", content=PDF, **fields):
        entity = find_type(
            {"LabResult": "lab-result", "Vitals": "vitals", "Condition": "condition"}[
                type(record).__name__
            ]
        )
        row = services.upload(
            user=record.patient.owner,
            entity=entity,
            entity_id=record.pk,
            patient_id=record.patient_id,
            upload=_hashed(upload_of(name, content)),
            **fields,
        )
        return row

    return upload


def _hashed(upload):
    upload.sha256 = hashlib.sha256(upload.read()).hexdigest()
    upload.seek(0)
    return upload


def _import(parsed, patient, *, dry_run=False, resolve=None) -> EntityFile:
    """What the importer does with a file: set the fields, before_save, full_clean, save."""
    fmap = FileMap()
    row = EntityFile()
    for name, value in parsed.fields.items():
        if not name.startswith("_"):
            setattr(row, name, value)
    ictx = ImportContext(patient=patient, user=patient.owner, dry_run=dry_run)
    if resolve is not None:
        ictx.resolve = resolve
    row.patient = patient
    fmap.before_save(row, parsed, ictx)
    row.full_clean()
    fmap.save(row, parsed, ictx)
    return row


def _comparable(resource: dict) -> dict:
    out = {k: v for k, v in resource.items() if k not in ("id", "identifier", "meta")}
    attachment = dict(out["content"][0]["attachment"])
    attachment.pop("url")
    out["content"] = [{"attachment": attachment}]
    return out


def test_file_exports_a_link_to_the_download(ctx, uploaded):
    result = LabResultFactory()
    row = uploaded(result, description="Lab report", category="results")
    resource = exported(FileMap(), row, ctx)
    attachment = resource["content"][0]["attachment"]
    assert attachment == {
        "contentType": "application/pdf",
        "url": f"http://testserver/api/v1/entity-files/files/{row.pk}/download",
        "size": len(PDF),
        "title": "report.pdf",
        "creation": attachment["creation"],
    }
    assert resource["status"] == "current"
    assert resource["description"] == "Lab report"
    assert resource["category"] == [{"text": "results"}]
    related = resource["context"]["related"][0]
    assert related == {
        **ctx.ref("lab_result", result.pk),
        "type": "DiagnosticReport",
        "identifier": ctx.identifier("lab_result", result.pk),
    }
    with pytest.raises(CannotImport, match="no inline data"):
        FileMap().to_fields(resource)


def test_file_round_trip_with_its_data(ctx, uploaded):
    vitals = VitalsFactory()
    row = uploaded(vitals, name="ecg.png", content=png_bytes(), description="ECG strip")
    ctx.include_file_data = True
    resource = exported(FileMap(), row, ctx)
    assert base64.b64decode(resource["content"][0]["attachment"]["data"]) == png_bytes()
    assert resource["context"]["related"][0]["type"] == "Observation"
    parsed = FileMap().to_fields(resource)
    assert parsed.fields["_content"] == png_bytes()
    assert parsed.fields["file_name"] == "ecg.png"
    copy = _import(parsed, vitals.patient)
    assert (copy.entity_type, copy.entity_id) == ("vitals", vitals.pk)
    assert copy.file_type == "image/png"
    assert copy.sha256 == row.sha256
    assert copy.stored_name != row.stored_name
    assert b"".join(storage.stream(copy.stored_name)) == png_bytes()
    assert _comparable(exported(FileMap(), copy, ctx)) == _comparable(resource)


def test_file_of_a_record_imported_elsewhere_finds_its_new_record(ctx, uploaded):
    result = LabResultFactory()
    ctx.include_file_data = True
    parsed = FileMap().to_fields(exported(FileMap(), uploaded(result), ctx))
    other = PatientFactory()
    with pytest.raises(CannotImport, match="neither in the bundle nor already here"):
        _import(parsed, other)
    # The importer kept the lab result's identifier when it made the other patient's copy.
    copy_of_result = LabResultFactory(patient=other)
    ExternalIdentifier.objects.create(
        patient=other,
        record_type="lab_result",
        record_id=copy_of_result.pk,
        system=ctx.system,
        value=f"lab_result/{result.pk}",
    )
    copy = _import(parsed, other)
    assert (copy.patient, copy.entity_id) == (other, copy_of_result.pk)


def test_dry_run_stores_nothing(ctx, uploaded, settings, tmp_path):
    result = LabResultFactory()
    ctx.include_file_data = True
    parsed = FileMap().to_fields(exported(FileMap(), uploaded(result), ctx))
    before = set(storage.all_names())
    row = _import(parsed, result.patient, dry_run=True)
    assert row.pk is None
    assert set(storage.all_names()) == before


def test_large_remote_and_missing_files_are_links_only(ctx, uploaded, monkeypatch):
    ctx.include_file_data = True
    result = LabResultFactory()
    big = uploaded(result, description="Scan")
    monkeypatch.setattr(documents, "MAX_INLINE_BYTES", 10)
    resource = exported(FileMap(), big, ctx)
    assert "data" not in resource["content"][0]["attachment"]
    assert resource["description"].startswith("Scan\n\n[File larger than")
    monkeypatch.undo()
    remote = uploaded(result)
    EntityFile.objects.filter(pk=remote.pk).update(storage_backend="paperless")
    resource = exported(FileMap(), remote, ctx)
    assert "Paperless" in resource["description"]
    missing = uploaded(result)
    storage.delete(missing.stored_name)
    resource = exported(FileMap(), missing, ctx)
    assert "missing" in resource["description"]


def test_foreign_document_with_data(ctx, local_files_storage):  # noqa: F811
    condition = ConditionFactory()
    resource = {
        "resourceType": "DocumentReference",
        "status": "current",
        "description": "Discharge letter",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": base64.b64encode(PDF).decode(),
                }
            }
        ],
        "context": {"related": [{"reference": "Condition/abc"}]},
    }
    validated(resource)
    fmap = FileMap()
    assert fmap.claims(resource)
    parsed = fmap.to_fields(resource)
    assert parsed.fields["file_name"] == "document.pdf"
    assert parsed.references == {"record": "Condition/abc"}
    rows = {"Condition/abc": condition}
    copy = _import(parsed, condition.patient, resolve=rows.get)
    assert (copy.entity_type, copy.entity_id) == ("condition", condition.pk)
    assert copy.description == "Discharge letter"


def test_a_record_type_without_files_is_refused(ctx, local_files_storage):  # noqa: F811
    member = FamilyMemberFactory()
    resource = {
        "resourceType": "DocumentReference",
        "content": [{"attachment": {"title": "a.pdf", "data": base64.b64encode(PDF).decode()}}],
        "context": {"related": [{"reference": "FamilyMemberHistory/1"}]},
    }
    parsed = FileMap().to_fields(resource)
    with pytest.raises(CannotImport, match="cannot be attached to a family_member"):
        _import(parsed, member.patient, resolve=lambda reference: member)


def _document(title, content, **attachment):
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "context": {"related": [{"reference": "Condition/1"}]},
        "content": [
            {
                "attachment": {
                    "title": title,
                    "data": base64.b64encode(content).decode() if content else "",
                    **attachment,
                }
            }
        ],
    }


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        (_document("a.pdf", b""), "no inline data"),
        ({**_document("a.pdf", PDF), "content": [{"attachment": {"data": "%%%"}}]}, "not base64"),
        (_document("a.pdf", HTML), "does not match its .pdf extension"),
        (_document("a.html", HTML), "not accepted"),
        (
            {
                **_document("a.pdf", PDF),
                "extension": [{"url": "urn:medikeep:file:sha256", "valueString": "0" * 64}],
            },
            "checksum",
        ),
        ({**_document("a.pdf", PDF), "status": "entered-in-error"}, "entered in error"),
        ({**_document("a.pdf", PDF), "content": "a.pdf"}, "could not be read"),
        ({"resourceType": "Binary"}, "not a DocumentReference"),
        ({**_document("a.pdf", PDF), "context": {}}, "names no record"),
    ],
)
def test_bad_documents_are_refused(resource, reason):
    with pytest.raises(CannotImport, match=reason):
        FileMap().to_fields(resource)


def test_too_large_a_document_is_refused(settings):
    settings.FILES_MAX_UPLOAD_BYTES = 100
    with pytest.raises(CannotImport, match="too large"):
        FileMap().to_fields(_document("a.pdf", PDF + b" " * 200))


def test_export_lists_live_files_of_visible_patients(ctx, uploaded, alice, bob, mallory):
    result = LabResultFactory(patient__owner=alice)
    kept = uploaded(result)
    trashed = uploaded(result)
    services.trash(user=alice, entity_file=trashed)
    fmap = FileMap()
    assert list(fmap.records(result.patient, alice)) == [kept]
    assert list(fmap.records(result.patient, mallory)) == []


# --- through the exporter and the importer -----------------------------------------------------


def _records_of_every_f2_kind(patient, uploaded):
    from records.tests.factories import (
        GaugeFactory,
        LabTestComponentFactory,
        MedicationFactory,
        PractitionerFactory,
        SymptomFactory,
        SymptomOccurrenceFactory,
    )

    doctor = PractitionerFactory(name=f"Dr. Vitals {patient.pk}")
    vitals = VitalsFactory(patient=patient, practitioner=doctor, weight=150.5, notes="After run")
    result = LabResultFactory(
        patient=patient, practitioner=doctor, test_code="58410-2", tags=["blood"]
    )
    LabTestComponentFactory(patient=patient, lab_result=result, test_name="WBC", display_order=1)
    LabTestComponentFactory(
        patient=patient,
        lab_result=result,
        test_name="Blood culture",
        result_type="qualitative",
        qualitative_value="negative",
        value=None,
        unit="",
        ref_range_min=None,
        ref_range_max=None,
    )
    symptom = SymptomFactory(patient=patient, symptom_name="Cough", typical_triggers=["cold air"])
    SymptomOccurrenceFactory(patient=patient, symptom=symptom, triggers=["dust"])
    SymptomOccurrenceFactory(patient=patient, symptom=symptom, resolved=True)
    medication = MedicationFactory(patient=patient)
    GaugeFactory(patient=patient, gauge_type="medication_adherence", medication=medication)
    GaugeFactory(patient=patient, gauge_type="mood", value=7)
    member = FamilyMemberFactory(patient=patient, relationship="mother")
    FamilyConditionFactory(patient=patient, family_member=member, icd10_code="I10")
    FamilyConditionFactory(patient=patient, family_member=member)
    uploaded(result, description="The lab's PDF", category="report")
    uploaded(vitals, name="chart.png", content=png_bytes())


def _comparable_bundle(bundle: dict) -> list[dict]:
    """The round trip's normal form, less what names our row ids inside the resources (the
    download url of a file, the identifier a reference carries beside it, the identifiers
    of nested family conditions)."""
    from interop.tests.test_fhir_roundtrip import normalise

    def walk(value):
        if isinstance(value, dict):
            return {
                key: walk(item)
                for key, item in value.items()
                if not (key == "url" and str(item).startswith("http://testserver/"))
                and not (key == "identifier" and "reference" in value)
                and key != "valueIdentifier"
            }
        if isinstance(value, list):
            return [
                walk(item)
                for item in value
                if not (isinstance(item, dict) and "valueIdentifier" in item)
            ]
        return value

    return normalise(walk(bundle))


F2_KINDS = {
    "vital",
    "lab_result",
    "lab_test_component",
    "symptom",
    "symptom_occurrence",
    "gauge",
    "family_member",
    "file",
}


def test_every_kind_through_export_and_import(
    alice, alice_api, patient, fhir_export, fhir_import, uploaded
):
    from fhir.resources.R4B.bundle import Bundle

    from interop.tests.test_fhir_roundtrip import _kind

    _records_of_every_f2_kind(patient, uploaded)
    exported = fhir_export(alice_api, patient.pk, include_file_data="true")
    Bundle.model_validate(exported)
    kinds = {_kind(e["resource"]) for e in exported["entry"]}
    assert kinds >= F2_KINDS

    empty = PatientFactory(owner=alice, first_name="Empty", last_name="Patient")
    files_before = set(storage.all_names())
    dry = fhir_import(alice_api, empty.pk, exported, dry_run=True).json()
    assert set(storage.all_names()) == files_before
    body = fhir_import(alice_api, empty.pk, exported).json()
    assert body["counts"]["created"] == dry["counts"]["created"]
    problems = [i for i in body["skipped"] if not i["reason"].startswith("Directory entry")]
    assert not problems, problems
    created = {item["kind"] for item in body["created"]}
    assert F2_KINDS | {"family_condition"} <= created
    assert FamilyCondition.objects.filter(patient=empty).count() == 2
    copied = EntityFile.objects.filter(patient=empty)
    assert sorted(f.file_name for f in copied) == ["chart.png", "report.pdf"]

    again = fhir_export(alice_api, empty.pk, include_file_data="true")
    assert _comparable_bundle(again) == _comparable_bundle(exported)

    second = fhir_import(alice_api, empty.pk, exported).json()
    assert second["counts"]["created"] == 0, second["created"]
    assert second["counts"]["updated"] == 0, second["updated"]
    assert EntityFile.objects.filter(patient=empty).count() == 2


def test_a_lab_value_without_its_report_is_skipped_with_the_reason(
    alice, alice_api, patient, fhir_export, fhir_import
):
    from records.tests.factories import LabTestComponentFactory, SymptomOccurrenceFactory

    LabTestComponentFactory(patient=patient)
    SymptomOccurrenceFactory(patient=patient)
    exported = fhir_export(alice_api, patient.pk, _type="Observation")
    empty = PatientFactory(owner=alice)
    body = fhir_import(alice_api, empty.pk, exported).json()
    reasons = {item["kind"]: item["reason"] for item in body["skipped"]}
    assert "DiagnosticReport" in reasons["lab_test_component"]
    created = [item["kind"] for item in body["created"]]
    assert "lab_test_component" not in created
    # The symptom is an Observation too: its occurrence came with it.
    assert created.count("symptom") == created.count("symptom_occurrence") == 1


def test_odd_shapes_are_refused_with_a_reason_or_read(ctx, uploaded):
    from interop.tests.test_fhir_maps_obs import _mangled

    member = FamilyMemberFactory(birth_date=date(1950, 1, 2))
    FamilyConditionFactory(patient=member.patient, family_member=member, icd10_code="I10")
    ctx.include_file_data = True
    resources = [
        (FamilyMemberMap(), exported(FamilyMemberMap(), member, ctx)),
        (FileMap(), exported(FileMap(), uploaded(LabResultFactory()), ctx)),
    ]
    for fmap, resource in resources:
        for key, odd in _mangled(resource):
            try:
                fmap.to_fields(odd)
            except CannotImport as exc:
                assert str(exc), (fmap.kind, key)
        for element in resource.get("condition", []):
            for key, odd in _mangled(element):
                try:
                    fmap.to_fields({**resource, "condition": [odd]})
                except CannotImport as exc:
                    assert str(exc), (fmap.kind, "condition", key)
