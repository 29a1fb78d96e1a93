"""Shared fixtures of the interop tests: FHIR calls and records with every field filled."""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json

import pytest
from django.apps import apps

from files.tests.helpers import factory_for
from interop.fhir.maps import REGISTRY, map_for_kind
from records.models import (
    ConditionMedication,
    InjuryCondition,
    TreatmentEncounter,
    TreatmentEquipment,
    TreatmentMedication,
)
from records.tests import factories as f

D = datetime.date


def fhir_url(patient_id: int) -> str:
    return f"/api/v1/patients/{patient_id}/fhir"


def read_bundle(response) -> dict:
    assert response.status_code == 200, getattr(response, "data", response)
    return json.loads(b"".join(response.streaming_content))


def row_counts() -> dict[str, int]:
    """Rows per model of the apps an import may write to (a dry run must leave them)."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in ("records", "patients", "interop", "files", "adminops")
    }


@pytest.fixture
def fhir_export():
    """fhir_export(client, patient_id, **query) -> the Bundle as a dict."""

    def run(client, patient_id, **query):
        return read_bundle(client.get(fhir_url(patient_id), query))

    return run


@pytest.fixture
def fhir_import():
    """fhir_import(client, patient_id, bundle, dry_run=False) -> the response."""

    def run(client, patient_id, bundle, dry_run=False):
        url = fhir_url(patient_id) + ("?dry_run=true" if dry_run else "")
        return client.post(url, json.dumps(bundle), content_type="application/fhir+json")

    return run


# --- records with every field -----------------------------------------------------------------


def _rich(kind: str, patient, n: int, primary: bool = False):
    """A record of one of the patient/directory/clinical kinds with every field set."""
    doc = f.PractitionerFactory(name=f"Dr. Full {n}-{patient.pk}")
    if kind == "medication":
        return f.MedicationFactory(
            patient=patient,
            medication_name=f"Metformin {n}",
            alternative_name="Glucophage",
            medication_type="prescription",
            dosage="500 mg",
            frequency="twice daily",
            route="oral",
            indication="Type 2 diabetes",
            effective_period_start=D(2024, 1, 2),
            effective_period_end=D(2024, 12, 1),
            status="cancelled",
            notes="With food",
            side_effects="Nausea",
            reminder_enabled=True,
            reminder_times=["08:00", "20:00"],
            reminder_message="Take it",
            reminder_days=[0, 2, 4],
            practitioner=doc,
            pharmacy=f.PharmacyFactory(
                name=f"Corner Pharmacy {n}-{patient.pk}",
                street_address="1 Main Street",
                country="US",
                store_number="12",
                phone_number="+1 555 0101",
                fax_number="+1 555 0102",
                email="rx@example.com",
                website="https://rx.example.com",
                hours="9-5",
                drive_through=True,
                specialty_services="Compounding",
            ),
            tags=["diabetes", "daily"],
        )
    if kind == "condition":
        condition = f.ConditionFactory(
            patient=patient,
            condition_name=f"Diabetes {n}",
            status="chronic",
            severity="critical",
            diagnosed_date=D(2020, 3, 4),
            onset_date=D(2020, 1, 1),
            end_date=D(2023, 1, 1),
            icd10_code="E11.9",
            snomed_code="44054006",
            code_description="Type 2 diabetes mellitus",
            notes="Diet controlled",
            practitioner=doc,
            tags=["chronic"],
        )
        ConditionMedication.objects.create(
            condition=condition,
            medication=f.MedicationFactory(patient=patient, medication_name=f"Insulin {n}"),
            relevance_note="First line",
        )
        return condition
    if kind == "allergy":
        return f.AllergyFactory(
            patient=patient,
            allergen=f"Penicillin {n}",
            severity="life-threatening",
            reaction="Hives",
            onset_date=D(2010, 5, 5),
            status="unconfirmed",
            notes="Since childhood",
            medication=f.MedicationFactory(patient=patient, medication_name=f"Amoxicillin {n}"),
        )
    if kind == "immunization":
        return f.ImmunizationFactory(
            patient=patient,
            vaccine_name=f"Influenza {n}",
            vaccine_trade_name="Fluzone",
            date_administered=D(2024, 10, 1),
            dose_number=2,
            lot_number="LOT1",
            ndc_number="49281-0421-50",
            manufacturer="Sanofi",
            site="Left arm",
            route="intramuscular",
            expiration_date=D(2025, 6, 1),
            location="Clinic",
            notes="No reaction",
            next_due_date=D(2025, 10, 1),
            practitioner=doc,
        )
    if kind == "procedure":
        return f.ProcedureFactory(
            patient=patient,
            procedure_name=f"Appendectomy {n}",
            procedure_code="80146002",
            procedure_type="surgical",
            procedure_date=D(2022, 2, 2),
            status="cancelled",
            outcome="complications",
            description="Laparoscopic",
            facility="General Hospital",
            procedure_setting="inpatient",
            procedure_duration=90,
            anesthesia_type="general",
            anesthesia_notes="Uneventful",
            complications="Wound infection",
            notes="Recovered",
            condition=f.ConditionFactory(patient=patient, condition_name=f"Appendicitis {n}"),
            practitioner=doc,
        )
    if kind == "encounter":
        return f.EncounterFactory(
            patient=patient,
            reason=f"Check-up {n}",
            date=D(2024, 4, 4),
            visit_type="Office Visit",
            chief_complaint="Tired",
            diagnosis="Anaemia",
            treatment_plan="Iron",
            follow_up_instructions="Return in 3 months",
            duration_minutes=30,
            location="Main clinic",
            priority="urgent",
            notes="Blood drawn",
            condition=f.ConditionFactory(patient=patient, condition_name=f"Anaemia {n}"),
            practitioner=doc,
        )
    if kind == "injury":
        injury = f.InjuryFactory(
            patient=patient,
            injury_name=f"Sprained ankle {n}",
            injury_type=f.InjuryTypeFactory(name=f"Sprain kind {n}-{patient.pk}"),
            body_part="Ankle",
            laterality="left",
            date_of_injury=D(2023, 7, 7),
            mechanism="Fell down stairs",
            severity="moderate",
            status="healing",
            treatment_received="Brace",
            recovery_notes="Slow",
            notes="Physio weekly",
            practitioner=doc,
        )
        InjuryCondition.objects.create(
            injury=injury,
            condition=f.ConditionFactory(patient=patient, condition_name=f"Instability {n}"),
            relevance_note="Since the fall",
        )
        return injury
    if kind == "treatment":
        treatment = f.TreatmentFactory(
            patient=patient,
            treatment_name=f"Physiotherapy {n}",
            treatment_type="physical",
            treatment_category="rehabilitation",
            description="Strength exercises",
            start_date=D(2024, 1, 1),
            end_date=D(2024, 6, 1),
            frequency="weekly",
            dosage="1 session",
            status="in_progress",
            mode="advanced",
            outcome="Better",
            location="Physio centre",
            notes="Going well",
            condition=f.ConditionFactory(patient=patient, condition_name=f"Back pain {n}"),
            practitioner=doc,
        )
        TreatmentMedication.objects.create(
            treatment=treatment,
            medication=f.MedicationFactory(patient=patient, medication_name=f"Ibuprofen {n}"),
            specific_dosage="400 mg",
            specific_frequency="as needed",
            specific_duration="2 weeks",
            timing_instructions="after meals",
            specific_start_date=D(2024, 1, 5),
            specific_end_date=D(2024, 1, 19),
            relevance_note="Pain",
            specific_prescriber=doc,
            specific_pharmacy=f.PharmacyFactory(name=f"Plan Pharmacy {n}-{patient.pk}"),
        )
        TreatmentEncounter.objects.create(
            treatment=treatment,
            encounter=f.EncounterFactory(patient=patient, reason=f"Plan visit {n}"),
            visit_label="initial",
            visit_sequence=1,
            relevance_note="Start",
        )
        TreatmentEquipment.objects.create(
            treatment=treatment,
            equipment=f.MedicalEquipmentFactory(patient=patient, equipment_name=f"Brace {n}"),
            usage_frequency="daily",
            specific_settings="tight",
            relevance_note="Support",
        )
        return treatment
    if kind == "medical_equipment":
        return f.MedicalEquipmentFactory(
            patient=patient,
            equipment_name=f"CPAP {n}",
            equipment_type="cpap",
            manufacturer="ResMed",
            model_number="AirSense 10",
            serial_number="SN123",
            prescribed_date=D(2021, 1, 1),
            last_service_date=D(2024, 1, 1),
            next_service_date=D(2025, 1, 1),
            status="returned",
            usage_instructions="Nightly",
            supplier="Medical supplies Inc",
            notes="Mask replaced",
            practitioner=doc,
        )
    if kind == "insurance":
        return f.InsuranceFactory(
            patient=patient,
            insurance_type="dental",
            company_name=f"Delta {n}",
            employer_group="ACME",
            member_name="Alice Owner",
            member_id=f"M{n}",
            group_number="G1",
            policy_number="P1",
            plan_name="Gold",
            policy_holder_name="Alice Owner",
            relationship_to_holder="dependent",
            effective_date=D(2024, 1, 1),
            expiration_date=D(2025, 1, 1),
            status="expired",
            is_primary=primary,
            coverage_details={"preventive_coverage": 100},
            contact_info={"phone": "+1 555 0199"},
            notes="Annual max 1500",
        )
    if kind == "emergency_contact":
        return f.EmergencyContactFactory(
            patient=patient,
            name=f"Bob Contact {n}",
            relationship="caregiver",
            phone_number="+1 555 0100",
            secondary_phone="+1 555 0111",
            email="bob@example.com",
            address="2 Side Street",
            is_primary=primary,
            is_active=False,
            notes="Call after 6pm",
        )
    raise LookupError(kind)


# Numbers that make names unique across calls (directory names are unique here).
SERIAL = itertools.count()


def _update_patient(patient) -> None:
    patient.blood_type = "O-"
    patient.height = 66
    patient.weight = 150
    patient.address = "1 Main Street, Anytown"
    patient.address_details = {"street": "1 Main Street", "city": "Anytown", "zip_code": "27514"}
    patient.phone_number = "+1 555 0000"
    patient.email = "alice@example.com"
    patient.relationship_to_self = "self"
    patient.physician = f.PractitionerFactory(name=f"Dr. Family {patient.pk}")
    patient.save()


def _uploaded(patient, n: int):
    """A file attached to a condition, stored like an upload (needs a files storage: the
    round trip asks for local_files_storage)."""
    from files import services
    from files.entity_types import find_type
    from files.tests.helpers import png_bytes, upload_of

    condition = f.ConditionFactory(patient=patient, condition_name=f"Documented {n}")
    upload = upload_of(f"scan-{n}.png", png_bytes(), "image/png")
    upload.sha256 = hashlib.sha256(upload.read()).hexdigest()
    upload.seek(0)
    return services.upload(
        user=patient.owner,
        entity=find_type("condition"),
        entity_id=condition.pk,
        patient_id=patient.pk,
        upload=upload,
        description=f"Scan {n}",
        category="imaging",
    )


def make_records(kind: str, patient, count: int = 2) -> list:
    """`count` records of `kind` for `patient`, with every field we know how to fill; kinds
    of other maps come from their factories."""
    if kind == "patient":
        _update_patient(patient)
        return [patient]
    serials = [next(SERIAL) for _ in range(count)]
    if kind == "practitioner":
        return [_rich("medication", patient, n).practitioner for n in serials]
    if kind == "practice":
        return [_rich("medication", patient, n).practitioner.practice for n in serials]
    if kind == "pharmacy":
        return [_rich("medication", patient, n).pharmacy for n in serials]
    if kind == "file":
        return [_uploaded(patient, n) for n in serials]
    try:
        return [_rich(kind, patient, n, primary=i == 0) for i, n in enumerate(serials)]
    except LookupError:
        pass
    item = map_for_kind(kind)
    factory = factory_for(item.model)
    if item.nested_in:
        parent_model = map_for_kind(item.nested_in).model
        parent = factory_for(parent_model)(patient=patient)
        field = next(
            f.name
            for f in item.model._meta.concrete_fields
            if f.is_relation and f.related_model is parent_model
        )
        return [factory(patient=patient, **{field: parent}) for _ in range(count)]
    return [factory(patient=patient) for _ in range(count)]


ALL_KINDS = [m.kind for m in REGISTRY]
