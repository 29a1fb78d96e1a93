"""Clinical records: medications, conditions, injuries (Condition with a category of their
own), allergies and immunizations; the helpers care.py shares."""

from __future__ import annotations

from records.models import (
    Allergy,
    AllergySeverity,
    AllergyStatus,
    Condition,
    ConditionSeverity,
    ConditionStatus,
    Immunization,
    ImmunizationRoute,
    Injury,
    InjuryLaterality,
    InjurySeverity,
    InjuryStatus,
    InjuryType,
    Medication,
    MedicationRoute,
    MedicationStatus,
    MedicationType,
    StandardizedVaccine,
)

from .base import (
    CODE_SYSTEM,
    CannotImport,
    ExportContext,
    Parsed,
    ResourceMap,
    choice,
    concept,
    concept_code,
    concept_text,
    first,
    iso,
    notes_in,
    notes_out,
    reference_of,
    to_date,
)

SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
NDC = "http://hl7.org/fhir/sid/ndc"
VACCINE_CATALOGUE_SYSTEM = "urn:medikeep:vaccine-who-code"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
UCUM = "http://unitsofmeasure.org"

SEVERITY_SNOMED = {"mild": "255604002", "moderate": "6736007", "severe": "24484000"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def severity_out(value: str, label: str) -> dict | None:
    if not value:
        return None
    code = SEVERITY_SNOMED.get(value)
    return concept(value, {"system": SNOMED, "code": code, "display": label} if code else None)


def severity_in(value, choices) -> str:
    """Ours from a severity CodeableConcept: its text, else the SNOMED code."""
    found = choice(concept_text(value), choices)
    if found:
        return found
    code = concept_code(value, SNOMED)
    return next((ours for ours, c in SEVERITY_SNOMED.items() if c == code), "")


def period(start, end) -> dict:
    return {k: v for k, v in (("start", iso(start)), ("end", iso(end))) if v}


def ref_ext(
    kind_of_record: str, name: str, ctx: ExportContext, target_kind: str, pk
) -> dict | None:
    """An extension pointing at another resource of the bundle (no element to carry it)."""
    if not pk:
        return None
    return {
        "url": f"urn:medikeep:{kind_of_record}:{name}",
        "valueReference": ctx.ref(target_kind, pk),
    }


def subject(record, ctx: ExportContext) -> dict:
    return ctx.ref("patient", record.patient_id)


def practitioner_ref(parsed: Parsed, value) -> None:
    parsed.refer("practitioner", reference_of(value))


# --- medications ------------------------------------------------------------------------------

MEDICATION_STATUS = {
    MedicationStatus.ACTIVE: "active",
    MedicationStatus.STOPPED: "stopped",
    MedicationStatus.ON_HOLD: "on-hold",
    MedicationStatus.COMPLETED: "completed",
    MedicationStatus.CANCELLED: "not-taken",
}


class MedicationMap(ResourceMap):
    kind = "medication"
    model = Medication
    resource_type = "MedicationStatement"
    extras = ("alternative_name", "side_effects", "reminder_enabled", "reminder_message")

    def to_resource(self, record: Medication, ctx: ExportContext) -> dict:
        repeat = {}
        if record.reminder_times:
            repeat["timeOfDay"] = [f"{t}:00" for t in record.reminder_times]
        if record.reminder_days:
            repeat["dayOfWeek"] = [WEEKDAYS[d] for d in record.reminder_days]
        timing = {}
        if repeat:
            timing["repeat"] = repeat
        if record.frequency:
            timing["code"] = {"text": record.frequency}
        dosage = {
            "text": record.dosage,
            "timing": timing,
            "route": concept(record.route) if record.route else None,
        }
        dosage = {k: v for k, v in dosage.items() if v}
        return self.base(
            record,
            ctx,
            extension=[ref_ext(self.kind, "pharmacy", ctx, "pharmacy", record.pharmacy_id)],
            status=MEDICATION_STATUS.get(record.status, "unknown"),
            category=concept(
                record.get_medication_type_display(),
                {"system": CODE_SYSTEM, "code": f"medication-{record.medication_type}"},
            ),
            medicationCodeableConcept={"text": record.medication_name},
            effectivePeriod=period(record.effective_period_start, record.effective_period_end),
            subject=subject(record, ctx),
            informationSource=(
                ctx.ref("practitioner", record.practitioner_id) if record.practitioner_id else None
            ),
            reasonCode=[{"text": record.indication}] if record.indication else [],
            note=notes_out(record.notes),
            dosage=[dosage] if dosage else [],
        )

    def to_fields(self, resource: dict) -> Parsed:
        name = concept_text(resource.get("medicationCodeableConcept"))
        if not name:
            name = str((resource.get("medicationReference") or {}).get("display") or "")
        if not name:
            raise CannotImport("The medication has no name (medicationCodeableConcept.text).")
        dosage = first(resource.get("dosage"))
        timing = dosage.get("timing") or {}
        repeat = timing.get("repeat") or {}
        category = resource.get("category")
        medication_type = choice(
            concept_code(category, CODE_SYSTEM).removeprefix("medication-"), MedicationType
        ) or choice(concept_text(category), MedicationType, MedicationType.PRESCRIPTION)
        times = [str(t)[:5] for t in repeat.get("timeOfDay") or () if isinstance(t, str)]
        days = [WEEKDAYS.index(d) for d in repeat.get("dayOfWeek") or () if d in WEEKDAYS]
        effective = resource.get("effectivePeriod") or {}
        start = to_date(effective.get("start")) or to_date(resource.get("effectiveDateTime"))
        reversed_status = {v: k for k, v in MEDICATION_STATUS.items()}
        fields = {
            "medication_name": name[:100],
            "medication_type": medication_type,
            "dosage": str(dosage.get("text") or ""),
            "frequency": concept_text(timing.get("code")),
            "route": choice(concept_text(dosage.get("route")), MedicationRoute),
            "indication": "; ".join(
                concept_text(r) for r in resource.get("reasonCode") or () if concept_text(r)
            ),
            "effective_period_start": start,
            "effective_period_end": to_date(effective.get("end")),
            "status": reversed_status.get(resource.get("status"), MedicationStatus.ACTIVE),
            "notes": notes_in(resource),
            "reminder_times": times,
            "reminder_days": days or None,
            **self.read_extras(resource),
        }
        parsed = Parsed(fields=fields)
        practitioner_ref(parsed, resource.get("informationSource"))
        parsed.refer("pharmacy", reference_of(self.ext_value(resource, "pharmacy")))
        return parsed


# --- conditions and injuries ------------------------------------------------------------------

CONDITION_STATUS = {
    ConditionStatus.ACTIVE: "active",
    ConditionStatus.CHRONIC: "active",
    ConditionStatus.INACTIVE: "inactive",
    ConditionStatus.RESOLVED: "resolved",
    ConditionStatus.RECURRENCE: "recurrence",
    ConditionStatus.RELAPSE: "relapse",
}
INJURY_CATEGORY = {"system": CODE_SYSTEM, "code": "injury", "display": "Injury"}


def is_injury(resource: dict) -> bool:
    for category in resource.get("category") or ():
        if concept_code(category, CODE_SYSTEM) == "injury":
            return True
        if "injur" in concept_text(category).lower():
            return True
    return False


class ConditionMap(ResourceMap):
    kind = "condition"
    model = Condition
    resource_type = "Condition"

    def claims_foreign(self, resource: dict) -> bool:
        return not is_injury(resource)

    def to_resource(self, record: Condition, ctx: ExportContext) -> dict:
        clinical, status_ext = self.coded_out("status", record.status, CONDITION_STATUS)
        display = record.code_description or None
        return self.base(
            record,
            ctx,
            extension=[status_ext],
            clinicalStatus=concept("", {"system": CONDITION_CLINICAL, "code": clinical}),
            category=[
                concept(
                    "",
                    {
                        "system": CONDITION_CATEGORY,
                        "code": "problem-list-item",
                        "display": "Problem List Item",
                    },
                )
            ],
            severity=severity_out(record.severity, record.get_severity_display()),
            code=concept(
                record.condition_name,
                {"system": ICD10, "code": record.icd10_code, "display": display},
                {"system": SNOMED, "code": record.snomed_code, "display": display},
            ),
            subject=subject(record, ctx),
            onsetDateTime=iso(record.onset_date),
            abatementDateTime=iso(record.end_date),
            recordedDate=iso(record.diagnosed_date),
            asserter=ctx.ref("practitioner", record.practitioner_id)
            if record.practitioner_id
            else None,
            note=notes_out(record.notes),
        )

    def to_fields(self, resource: dict) -> Parsed:
        code = resource.get("code") or {}
        name = concept_text(code)
        if not name:
            raise CannotImport("The condition has no name (code.text).")
        icd10 = next(
            (
                c
                for c in code.get("coding") or ()
                if isinstance(c, dict)
                and str(c.get("system", "")).startswith("http://hl7.org/fhir/sid/icd-10")
            ),
            {},
        )
        snomed = next(
            (
                c
                for c in code.get("coding") or ()
                if isinstance(c, dict) and c.get("system") == SNOMED
            ),
            {},
        )
        clinical = concept_code(resource.get("clinicalStatus"), CONDITION_CLINICAL)
        if clinical == "remission":
            clinical = "inactive"
        fields = {
            "condition_name": name[:500],
            "status": self.coded_in(
                resource, "status", clinical, CONDITION_STATUS, ConditionStatus, "active"
            ),
            "severity": severity_in(resource.get("severity"), ConditionSeverity),
            "icd10_code": str(icd10.get("code") or "")[:10],
            "snomed_code": str(snomed.get("code") or "")[:20],
            "code_description": str(icd10.get("display") or snomed.get("display") or "")[:500],
            "onset_date": to_date(resource.get("onsetDateTime")),
            "end_date": to_date(resource.get("abatementDateTime")),
            "diagnosed_date": to_date(resource.get("recordedDate")),
            "notes": notes_in(resource),
        }
        parsed = Parsed(fields=fields)
        practitioner_ref(parsed, resource.get("asserter"))
        return parsed


INJURY_STATUS = {
    InjuryStatus.ACTIVE: "active",
    InjuryStatus.HEALING: "active",
    InjuryStatus.CHRONIC: "active",
    InjuryStatus.RESOLVED: "resolved",
}


class InjuryMap(ResourceMap):
    kind = "injury"
    model = Injury
    resource_type = "Condition"
    extras = ("laterality", "mechanism", "treatment_received", "recovery_notes")

    def claims_foreign(self, resource: dict) -> bool:
        return is_injury(resource)

    def queryset(self, queryset):
        return queryset.select_related("injury_type")

    def to_resource(self, record: Injury, ctx: ExportContext) -> dict:
        clinical, status_ext = self.coded_out("status", record.status, INJURY_STATUS)
        return self.base(
            record,
            ctx,
            extension=[
                status_ext,
                self.ext("injury_type", record.injury_type.name if record.injury_type_id else ""),
            ],
            clinicalStatus=concept("", {"system": CONDITION_CLINICAL, "code": clinical}),
            category=[concept("Injury", INJURY_CATEGORY)],
            severity=severity_out(record.severity, record.get_severity_display()),
            code={"text": record.injury_name},
            bodySite=[{"text": record.body_part}],
            subject=subject(record, ctx),
            onsetDateTime=iso(record.date_of_injury),
            asserter=ctx.ref("practitioner", record.practitioner_id)
            if record.practitioner_id
            else None,
            note=notes_out(record.notes),
        )

    def to_fields(self, resource: dict) -> Parsed:
        name = concept_text(resource.get("code"))
        if not name:
            raise CannotImport("The injury has no name (code.text).")
        parsed = Parsed()
        type_name = self.ext_value(resource, "injury_type")
        injury_type = None
        if type_name:
            injury_type = InjuryType.objects.filter(name__iexact=type_name).first()
            if injury_type is None:
                parsed.warnings.append(f"Injury type {type_name!r} is not known here; left empty.")
        clinical = concept_code(resource.get("clinicalStatus"), CONDITION_CLINICAL)
        clinical = "resolved" if clinical in ("resolved", "inactive", "remission") else "active"
        parsed.fields = {
            "injury_name": name[:300],
            "injury_type": injury_type,
            "body_part": concept_text(first(resource.get("bodySite"))) or "Unspecified",
            "status": self.coded_in(
                resource, "status", clinical, INJURY_STATUS, InjuryStatus, "active"
            ),
            "severity": severity_in(resource.get("severity"), InjurySeverity),
            "date_of_injury": to_date(resource.get("onsetDateTime")),
            "notes": notes_in(resource),
            **self.read_extras(resource),
        }
        parsed.fields["laterality"] = choice(parsed.fields["laterality"], InjuryLaterality)
        practitioner_ref(parsed, resource.get("asserter"))
        return parsed


# --- allergies --------------------------------------------------------------------------------

ALLERGY_STATUS = {
    AllergyStatus.ACTIVE: "active",
    AllergyStatus.UNCONFIRMED: "active",
    AllergyStatus.INACTIVE: "inactive",
    AllergyStatus.RESOLVED: "resolved",
}
REACTION_SEVERITY = {"mild": "mild", "moderate": "moderate", "severe": "severe"}


class AllergyMap(ResourceMap):
    kind = "allergy"
    model = Allergy
    resource_type = "AllergyIntolerance"

    def to_resource(self, record: Allergy, ctx: ExportContext) -> dict:
        clinical = ALLERGY_STATUS.get(record.status, "active")
        verification = "unconfirmed" if record.status == AllergyStatus.UNCONFIRMED else "confirmed"
        reaction = None
        severity_ext = None
        if record.reaction:
            reaction = {"manifestation": [{"text": record.reaction}]}
            if record.severity in REACTION_SEVERITY:
                reaction["severity"] = REACTION_SEVERITY[record.severity]
        if not reaction or "severity" not in reaction:
            severity_ext = self.ext("severity", record.severity)
        return self.base(
            record,
            ctx,
            extension=[
                severity_ext,
                ref_ext(self.kind, "medication", ctx, "medication", record.medication_id),
            ],
            clinicalStatus=concept("", {"system": ALLERGY_CLINICAL, "code": clinical}),
            verificationStatus=concept("", {"system": ALLERGY_VERIFICATION, "code": verification}),
            criticality="high" if record.severity in ("severe", "life-threatening") else "low",
            code={"text": record.allergen},
            patient=subject(record, ctx),
            onsetDateTime=iso(record.onset_date),
            note=notes_out(record.notes),
            reaction=[reaction] if reaction else [],
        )

    def to_fields(self, resource: dict) -> Parsed:
        allergen = concept_text(resource.get("code"))
        if not allergen:
            raise CannotImport("The allergy names no allergen (code.text).")
        reaction = first(resource.get("reaction"))
        manifestations = [concept_text(m) for m in reaction.get("manifestation") or ()]
        severity = choice(self.ext_value(resource, "severity"), AllergySeverity) or choice(
            reaction.get("severity"), AllergySeverity
        )
        if not severity:
            severity = "severe" if resource.get("criticality") == "high" else "mild"
        clinical = concept_code(resource.get("clinicalStatus"), ALLERGY_CLINICAL) or "active"
        if concept_code(resource.get("verificationStatus"), ALLERGY_VERIFICATION) == "unconfirmed":
            status = AllergyStatus.UNCONFIRMED
        else:
            status = choice(clinical, AllergyStatus, AllergyStatus.ACTIVE)
        parsed = Parsed(
            fields={
                "allergen": allergen[:200],
                "severity": severity,
                "reaction": ", ".join(m for m in manifestations if m)[:500],
                "onset_date": to_date(resource.get("onsetDateTime")),
                "status": status,
                "notes": notes_in(resource),
            }
        )
        parsed.refer("medication", reference_of(self.ext_value(resource, "medication")))
        return parsed


# --- immunizations ----------------------------------------------------------------------------


class ImmunizationMap(ResourceMap):
    kind = "immunization"
    model = Immunization
    resource_type = "Immunization"
    extras = ("vaccine_trade_name", "next_due_date")

    def queryset(self, queryset):
        return queryset.select_related("standardized_vaccine")

    def to_resource(self, record: Immunization, ctx: ExportContext) -> dict:
        catalogue = record.standardized_vaccine
        return self.base(
            record,
            ctx,
            status="completed",
            vaccineCode=concept(
                record.vaccine_name,
                {"system": NDC, "code": record.ndc_number},
                {
                    "system": VACCINE_CATALOGUE_SYSTEM,
                    "code": catalogue.who_code,
                    "display": catalogue.vaccine_name,
                }
                if catalogue
                else None,
            ),
            patient=subject(record, ctx),
            occurrenceDateTime=iso(record.date_administered),
            location={"display": record.location} if record.location else None,
            manufacturer={"display": record.manufacturer} if record.manufacturer else None,
            lotNumber=record.lot_number,
            expirationDate=iso(record.expiration_date),
            site={"text": record.site} if record.site else None,
            route={"text": record.route} if record.route else None,
            performer=(
                [{"actor": ctx.ref("practitioner", record.practitioner_id)}]
                if record.practitioner_id
                else []
            ),
            note=notes_out(record.notes),
            protocolApplied=(
                [{"doseNumberPositiveInt": record.dose_number}] if record.dose_number else []
            ),
        )

    def to_fields(self, resource: dict) -> Parsed:
        vaccine = resource.get("vaccineCode") or {}
        name = concept_text(vaccine)
        if not name:
            raise CannotImport("The immunization names no vaccine (vaccineCode.text).")
        given = to_date(resource.get("occurrenceDateTime")) or to_date(resource.get("recorded"))
        if given is None:
            raise CannotImport("The immunization has no date (occurrenceDateTime).")
        if resource.get("status") == "not-done":
            raise CannotImport("The immunization was not done (status not-done).")
        who_code = concept_code(vaccine, VACCINE_CATALOGUE_SYSTEM)
        dose = first(resource.get("protocolApplied")).get("doseNumberPositiveInt")
        parsed = Parsed(
            fields={
                "vaccine_name": name[:200],
                "date_administered": given,
                "ndc_number": concept_code(vaccine, NDC)[:50],
                "standardized_vaccine": (
                    StandardizedVaccine.objects.filter(who_code=who_code).first()
                    if who_code
                    else None
                ),
                "dose_number": dose if isinstance(dose, int) else None,
                "lot_number": str(resource.get("lotNumber") or "")[:50],
                "manufacturer": str((resource.get("manufacturer") or {}).get("display") or "")[
                    :200
                ],
                "site": concept_text(resource.get("site"))[:100],
                "route": choice(concept_text(resource.get("route")), ImmunizationRoute),
                "expiration_date": to_date(resource.get("expirationDate")),
                "location": str((resource.get("location") or {}).get("display") or "")[:200],
                "notes": notes_in(resource),
                **self.read_extras(resource),
            }
        )
        practitioner_ref(parsed, first(resource.get("performer")).get("actor"))
        return parsed


MAPS = [
    MedicationMap(),
    ConditionMap(),
    AllergyMap(),
    ImmunizationMap(),
    InjuryMap(),
]
