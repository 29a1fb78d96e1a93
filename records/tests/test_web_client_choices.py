"""Every option MediKeep's web app (v0.69.0) offers in a select is accepted.

A user who picks an option the server refuses gets a 422 and loses the form. For each select
of the forms the app's pages render (web-client-api.md §4, §5, §6), every value the option
list can send is posted, as the app posts it, and must answer 2xx with the value kept. The
values are written out as the app has them (facts about the client, not its code); the comment
on each names the form that offers them. Selects whose field we keep as free text are listed
too, so that a later choice list cannot start refusing them unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from records.tests.factories import (
    EncounterFactory,
    FamilyMemberFactory,
    LabResultFactory,
    SymptomFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"

# --- how the app creates each record (the smallest body its form can submit) ---------------


def _post(path: str, body: dict, query: str = ""):
    def send(api, patient, changes: dict):
        return api.post(
            f"{API}/{path}/{query.format(patient=patient)}",
            {**body, "patient_id": patient.pk, **changes},
            format="json",
        )

    return send


def _post_without_patient(path: str, body: dict):
    # Emergency contacts: the app puts patient_id in the query string, not the body (§5.13).
    def send(api, patient, changes: dict):
        return api.post(
            f"{API}/{path}/?patient_id={patient.pk}", {**body, **changes}, format="json"
        )

    return send


def _family_condition(api, patient, changes):
    member = FamilyMemberFactory(patient=patient)
    return api.post(
        f"{API}/family-members/{member.pk}/conditions?patient_id={patient.pk}",
        {"condition_name": "Diabetes", **changes},
        format="json",
    )


def _occurrence(api, patient, changes):
    symptom = SymptomFactory(patient=patient)
    body = {"occurrence_date": "2024-02-03", "severity": "mild", **changes}
    return api.post(f"{API}/symptoms/{symptom.pk}/occurrences", body, format="json")


def _component(api, patient, changes):
    # The lab-results page saves components through the bulk call (§5.9).
    lab_result = LabResultFactory(patient=patient)
    row = {
        "test_name": "Glucose",
        "value": 92,
        "unit": "mg/dL",
        "result_type": "quantitative",
        **changes,
    }
    return api.post(
        f"{API}/lab-test-components/lab-result/{lab_result.pk}/components/bulk"
        f"?patient_id={patient.pk}",
        {"lab_result_id": lab_result.pk, "components": [row]},
        format="json",
    )


def _encounter_lab_result(api, patient, changes):
    encounter, lab_result = EncounterFactory(patient=patient), LabResultFactory(patient=patient)
    body = {"lab_result_id": lab_result.pk, **changes}
    return api.post(f"{API}/encounters/{encounter.pk}/lab-results", body, format="json")


def _lab_result_encounter(api, patient, changes):
    encounter, lab_result = EncounterFactory(patient=patient), LabResultFactory(patient=patient)
    body = {"encounter_id": encounter.pk, **changes}
    return api.post(f"{API}/lab-results/{lab_result.pk}/encounters", body, format="json")


def _treatment_lab_result(api, patient, changes):
    treatment, lab_result = TreatmentFactory(patient=patient), LabResultFactory(patient=patient)
    body = {"lab_result_id": lab_result.pk, **changes}
    return api.post(f"{API}/treatments/{treatment.pk}/lab-results", body, format="json")


def _treatment_encounter(api, patient, changes):
    treatment, encounter = TreatmentFactory(patient=patient), EncounterFactory(patient=patient)
    body = {"encounter_id": encounter.pk, **changes}
    return api.post(f"{API}/treatments/{treatment.pk}/encounters", body, format="json")


def _patient(api, patient, changes):
    # The patient form (§4) sends every field, "" for empty selects.
    body = {
        "first_name": "Jane",
        "last_name": "Doe",
        "birth_date": "2010-05-20",
        "gender": "",
        "blood_type": "",
        "height": None,
        "weight": None,
        "address": "",
        "physician_id": None,
        "is_self_record": False,
        "relationship_to_self": "",
        **changes,
    }
    return api.post(f"{API}/patient-management/", body, format="json")


CREATE: dict[str, Callable] = {
    "medications": _post(
        "medications", {"medication_name": "Lisinopril", "medication_type": "prescription"}
    ),
    "allergies": _post("allergies", {"allergen": "Penicillin", "severity": "mild"}),
    "conditions": _post("conditions", {"condition_name": None, "diagnosis": "Asthma"}),
    "immunizations": _post(
        "immunizations", {"vaccine_name": "Influenza", "date_administered": "2024-10-01"}
    ),
    "procedures": _post(
        "procedures",
        {"procedure_name": "Colonoscopy", "date": "2024-03-05", "status": "completed"},
    ),
    "treatments": _post("treatments", {"treatment_name": "Physical therapy", "mode": "simple"}),
    "encounters": _post("encounters", {"reason": "Checkup", "date": "2024-05-01"}),
    "lab-results": _post("lab-results", {"test_name": "Basic panel", "status": "ordered"}),
    "lab-components": _component,
    "vitals": _post(
        "vitals", {"recorded_date": "2024-05-01T08:00:00Z", "blood_glucose": 100, "heart_rate": 70}
    ),
    "injuries": _post(
        "injuries", {"injury_name": "Sprained ankle", "body_part": "Ankle", "status": "active"}
    ),
    "insurances": _post(
        "insurances",
        {
            "insurance_type": "medical",
            "company_name": "Acme Health",
            "member_name": "Alice Owner",
            "member_id": "M-123",
            "effective_date": "2024-01-01",
        },
    ),
    "emergency-contacts": _post_without_patient(
        "emergency-contacts",
        {"name": "Bob Owner", "relationship": "spouse", "phone_number": "555-123-4567"},
    ),
    "family-members": _post("family-members", {"name": "John Owner", "relationship": "father"}),
    "family-conditions": _family_condition,
    "symptoms": _post(
        "symptoms", {"symptom_name": "Headache", "first_occurrence_date": "2024-02-01"}
    ),
    "symptom-occurrences": _occurrence,
    "medical-equipment": _post(
        "medical-equipment", {"equipment_name": "CPAP machine", "equipment_type": "cpap"}
    ),
    "patients": _patient,
    "encounter-lab-results": _encounter_lab_result,
    "lab-result-encounters": _lab_result_encounter,
    "treatment-lab-results": _treatment_lab_result,
    "treatment-encounters": _treatment_encounter,
}


# --- the selects and the values the app can send --------------------------------------------


@dataclass(frozen=True)
class Select:
    record: str  # a key of CREATE
    field: str
    values: tuple
    # The request fields for one value; the field itself unless the app nests it.
    body: Callable[[str, object], dict] = lambda field, value: {field: value}
    # Where the answer keeps the value; None when the server ignores the key.
    stored: Callable[[str, dict], object] | None = lambda field, record: record[field]

    def __str__(self) -> str:
        return f"{self.record}.{self.field}"


def _in_coverage(field, value):
    return {"coverage_details": {field: value}}


def _from_coverage(field, record):
    return record["coverage_details"][field]


def _first_component(field, answer):
    return answer["components"][0][field]


def _with_result_value(field, value):
    # What the component form sends beside each result type: no number for the other two.
    kept = {
        "qualitative": {"qualitative_value": "positive", "value": None, "unit": None},
        "textual": {"textual_value": "Clear", "value": None, "unit": None},
    }
    return {field: value, **kept.get(value, {})}


SEVERITY_WITH_LIFE_THREATENING = ("mild", "moderate", "severe", "life-threatening")
LAB_CATEGORIES = (  # LabResultFormWrapper, TestPanelCreateDialog (and PANEL_CATEGORY_TO_FORM_…)
    "blood work",
    "hematology",
    "imaging",
    "pathology",
    "microbiology",
    "chemistry",
    "hepatology",
    "immunology",
    "genetics",
    "cardiology",
    "pulmonology",
    "hearing",
    "stomatology",
    "other",
)
COMPONENT_CATEGORIES = (  # TestComponentEditModal, labCategories.ts, test and panel libraries
    "chemistry",
    "hematology",
    "hepatology",
    "lipids",
    "endocrinology",
    "cardiology",
    "immunology",
    "microbiology",
    "toxicology",
    "genetics",
    "molecular",
    "pathology",
    "hearing",
    "stomatology",
    "imaging",
    "other",
)
CONTACT_RELATIONSHIPS = (  # MantineEmergencyContactForm
    "spouse",
    "partner",
    "parent",
    "mother",
    "father",
    "child",
    "son",
    "daughter",
    "sibling",
    "brother",
    "sister",
    "grandparent",
    "grandmother",
    "grandfather",
    "grandchild",
    "grandson",
    "granddaughter",
    "aunt",
    "uncle",
    "cousin",
    "friend",
    "neighbor",
    "caregiver",
    "guardian",
    "other",
)
PATIENT_RELATIONSHIPS = (  # relationshipOptions.js (MantinePatientForm) and PatientForm
    "self",
    "spouse",
    "partner",
    "child",
    "son",
    "daughter",
    "parent",
    "father",
    "mother",
    "sibling",
    "brother",
    "sister",
    "grandparent",
    "grandchild",
    "other_family",
    "friend",
    "other",
)
EQUIPMENT_TYPES = (  # equipmentConstants.js (EquipmentFormWrapper)
    "cpap",
    "bipap",
    "nebulizer",
    "inhaler",
    "blood_pressure_monitor",
    "glucose_monitor",
    "pulse_oximeter",
    "wheelchair",
    "walker",
    "cane",
    "crutches",
    "oxygen_concentrator",
    "oxygen_tank",
    "hearing_aid",
    "insulin_pump",
    "continuous_glucose_monitor",
    "tens_unit",
    "brace",
    "prosthetic",
    "other",
)

SELECTS = [
    # Medications: MantineMedicationForm (medicalFormFields/medication.js, medicationTypes.js)
    Select("medications", "medication_type", ("prescription", "otc", "supplement", "herbal")),
    Select(
        "medications",
        "route",
        (
            "oral",
            "injection",
            "topical",
            "intravenous",
            "intramuscular",
            "subcutaneous",
            "inhalation",
            "nasal",
            "rectal",
            "sublingual",
        ),
    ),
    Select("medications", "status", ("active", "stopped", "on-hold", "completed")),
    # The weekday chips send numbers, Monday 0.
    Select(
        "medications",
        "reminder_days",
        tuple([day] for day in range(7)),
    ),
    # Allergies: AllergyFormWrapper. Its allergy type and reaction type are sent (the page
    # spreads the whole form) but are not fields of ours: they must be ignored, not refused.
    Select("allergies", "severity", SEVERITY_WITH_LIFE_THREATENING),
    Select("allergies", "status", ("active", "inactive", "resolved")),
    Select(
        "allergies",
        "allergy_type",
        ("food", "medication", "environmental", "insect", "other"),
        stored=None,
    ),
    Select(
        "allergies",
        "reaction_type",
        ("skin", "respiratory", "gastrointestinal", "anaphylaxis", "other"),
        stored=None,
    ),
    # Conditions: ConditionFormWrapper offers life-threatening; the unused
    # MantineConditionForm (statusConfig.js) critical, recurrence and relapse.
    Select("conditions", "severity", (*SEVERITY_WITH_LIFE_THREATENING, "critical")),
    Select(
        "conditions",
        "status",
        ("active", "inactive", "resolved", "chronic", "recurrence", "relapse"),
    ),
    # Immunizations: ImmunizationFormWrapper
    Select(
        "immunizations",
        "route",
        ("intramuscular", "subcutaneous", "intradermal", "oral", "nasal", "intravenous"),
    ),
    Select(
        "immunizations",
        "site",
        (
            "left_arm",
            "right_arm",
            "left_thigh",
            "right_thigh",
            "left_deltoid",
            "right_deltoid",
            "oral",
            "nasal",
        ),
    ),
    # Procedures: ProcedureFormWrapper (MantineProcedureForm spells "in-progress")
    Select(
        "procedures",
        "status",
        ("scheduled", "in_progress", "in-progress", "completed", "postponed", "cancelled"),
    ),
    Select(
        "procedures",
        "outcome",
        ("successful", "abnormal", "complications", "inconclusive", "pending"),
    ),
    # Treatments: TreatmentFormWrapper (its type select also takes typed text)
    Select("treatments", "mode", ("simple", "advanced")),
    Select("treatments", "status", ("planned", "active", "on-hold", "completed", "cancelled")),
    Select(
        "treatments",
        "treatment_type",
        (
            "medication_therapy",
            "physical_therapy",
            "surgery_procedure",
            "lifestyle_dietary",
            "monitoring",
            "mental_health",
            "rehabilitation",
            "alternative",
            "combination",
            "other",
        ),
    ),
    # Visits: MantineVisitForm (medicalFormFields/visit.js)
    Select(
        "encounters",
        "visit_type",
        (
            "annual checkup",
            "follow-up",
            "consultation",
            "emergency",
            "preventive care",
            "routine visit",
            "specialist referral",
        ),
    ),
    Select("encounters", "priority", ("routine", "urgent", "emergency")),
    Select(
        "encounters",
        "location",
        ("office", "hospital", "clinic", "telehealth", "urgent care", "emergency room", "home"),
    ),
    # Lab results: LabResultFormWrapper, TestPanelCreateDialog, LabResultQuickImportModal
    Select("lab-results", "status", ("ordered", "in-progress", "completed", "cancelled")),
    Select("lab-results", "test_category", LAB_CATEGORIES),
    Select(
        "lab-results",
        "test_type",
        ("routine", "urgent", "emergency", "follow-up", "screening"),
    ),
    Select(
        "lab-results",
        "labs_result",
        ("normal", "abnormal", "critical", "high", "low", "borderline", "inconclusive"),
    ),
    # Lab components: TestComponentEditModal, TestComponentBulkEntry, InlineTestComponentEntry
    Select(
        "lab-components",
        "result_type",
        ("quantitative", "qualitative", "textual"),
        body=_with_result_value,
        stored=_first_component,
    ),
    Select(
        "lab-components",
        "qualitative_value",
        ("positive", "negative", "detected", "undetected"),
        body=lambda field, value: {field: value, "result_type": "qualitative", "value": None},
        stored=_first_component,
    ),
    Select(
        "lab-components",
        "status",
        ("normal", "high", "low", "critical", "abnormal", "borderline"),
        stored=_first_component,
    ),
    Select("lab-components", "category", COMPONENT_CATEGORIES, stored=_first_component),
    # Vitals: VitalsForm
    Select("vitals", "glucose_context", ("fasting", "before_meal", "after_meal", "random")),
    Select(
        "vitals",
        "location",
        ("home", "clinic", "hospital", "urgent_care", "pharmacy", "ambulatory", "other"),
    ),
    # Injuries: InjuryFormWrapper
    Select("injuries", "laterality", ("left", "right", "bilateral", "not_applicable")),
    Select("injuries", "severity", SEVERITY_WITH_LIFE_THREATENING),
    Select("injuries", "status", ("active", "healing", "resolved", "chronic")),
    # Insurance: InsuranceFormWrapper (medicalFormFields/insurance.js); plan types travel
    # inside coverage_details (nestedFormUtils.js)
    Select("insurances", "insurance_type", ("medical", "dental", "vision", "prescription")),
    Select(
        "insurances",
        "relationship_to_holder",
        ("self", "spouse", "child", "dependent", "other"),
    ),
    Select("insurances", "status", ("active", "inactive", "expired", "pending")),
    Select(
        "insurances",
        "plan_type",
        ("ppo", "hmo", "epo", "pos", "hdhp", "indemnity", "other"),
        body=_in_coverage,
        stored=_from_coverage,
    ),
    Select(
        "insurances",
        "dental_plan_type",
        ("dppo", "dhmo", "indemnity", "discount", "other"),
        body=_in_coverage,
        stored=_from_coverage,
    ),
    Select(
        "insurances",
        "vision_plan_type",
        ("vision_ppo", "vision_hmo", "vision_discount", "other"),
        body=_in_coverage,
        stored=_from_coverage,
    ),
    Select(
        "insurances",
        "prescription_plan_type",
        ("formulary", "tiered_copay", "medicare_part_d", "integrated", "other"),
        body=_in_coverage,
        stored=_from_coverage,
    ),
    # Emergency contacts: MantineEmergencyContactForm
    Select("emergency-contacts", "relationship", CONTACT_RELATIONSHIPS),
    # Family history: MantineFamilyMemberForm, MantineFamilyConditionForm
    Select(
        "family-members",
        "relationship",
        (
            "father",
            "mother",
            "brother",
            "sister",
            "paternal_grandfather",
            "paternal_grandmother",
            "maternal_grandfather",
            "maternal_grandmother",
            "uncle",
            "aunt",
            "cousin",
            "other",
        ),
    ),
    Select("family-members", "gender", ("male", "female", "other")),
    Select(
        "family-conditions",
        "condition_type",
        (
            "cardiovascular",
            "diabetes",
            "cancer",
            "mental_health",
            "neurological",
            "autoimmune",
            "genetic",
            "respiratory",
            "endocrine",
            "other",
        ),
    ),
    Select("family-conditions", "severity", SEVERITY_WITH_LIFE_THREATENING),
    Select("family-conditions", "status", ("active", "resolved", "chronic")),
    # Symptoms: MantineSymptomForm, MantineSymptomOccurrenceForm (symptomEnums.js)
    Select("symptoms", "status", ("active", "resolved", "recurring")),
    Select("symptom-occurrences", "severity", ("mild", "moderate", "severe", "critical")),
    Select(
        "symptom-occurrences",
        "impact_level",
        ("no_impact", "mild", "moderate", "severe", "debilitating"),
    ),
    # Medical equipment: EquipmentFormWrapper (also TreatmentEquipmentRelationships)
    Select("medical-equipment", "equipment_type", EQUIPMENT_TYPES),
    Select("medical-equipment", "status", ("active", "inactive", "replaced", "returned", "lost")),
    # Patients: MantinePatientForm (genderOptions.js) and PatientForm
    Select("patients", "gender", ("M", "F", "OTHER", "U")),
    Select("patients", "blood_type", ("A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")),
    Select("patients", "relationship_to_self", PATIENT_RELATIONSHIPS),
    # Links (§6): encounterLabResultConstants.js, treatmentLabResultConstants.js,
    # TreatmentEncounterRelationships / TreatmentPlanSetup
    Select(
        "encounter-lab-results",
        "purpose",
        ("ordered_during", "results_reviewed", "follow_up_for", "reference", "other"),
    ),
    Select(
        "lab-result-encounters",
        "purpose",
        ("ordered_during", "results_reviewed", "follow_up_for", "reference", "other"),
    ),
    Select(
        "treatment-lab-results",
        "purpose",
        ("baseline", "monitoring", "outcome", "safety", "other"),
    ),
    Select(
        "treatment-encounters",
        "visit_label",
        ("initial", "follow_up", "review", "final", "other"),
    ),
]


def _refusal(response):
    """Why the app would lose the form, or None when the answer is a success."""
    if not 200 <= response.status_code < 300:
        return response.status_code, response.content[:300]
    answer = response.json()
    # The bulk call answers 201 and lists the rows it refused.
    if isinstance(answer, dict) and answer.get("errors"):
        return response.status_code, answer["errors"]
    return None


@pytest.mark.parametrize("select", SELECTS, ids=str)
def test_every_option_the_app_offers_is_accepted(alice_api, patient, select):
    refused, dropped = {}, []
    for value in select.values:
        response = CREATE[select.record](alice_api, patient, select.body(select.field, value))
        if (why := _refusal(response)) is not None:
            refused[str(value)] = why
        elif select.stored is not None and select.stored(select.field, response.json()) in (
            None,
            "",
            [],
        ):
            dropped.append(value)
    assert not refused, f"{select} refuses {refused}"
    assert not dropped, f"{select} accepts but does not keep {dropped}"


# The selects this change widened (and the episode severity, whose set stayed the app's four).
WIDENED = {"conditions.severity", "immunizations.route", "symptom-occurrences.severity"}


@pytest.mark.parametrize("select", [s for s in SELECTS if str(s) in WIDENED], ids=str)
def test_a_value_no_form_offers_is_still_refused(alice_api, patient, select):
    response = CREATE[select.record](
        alice_api, patient, select.body(select.field, "no-such-option")
    )
    assert response.status_code == 422, response.content
    assert select.field in response.json()["errors"]
