"""Care records: procedures, encounters, treatments (CarePlan) and medical equipment
(DeviceUseStatement with a contained Device). Helpers shared with clinical.py live there."""

from __future__ import annotations

from records.models import (
    Encounter,
    EncounterPriority,
    MedicalEquipment,
    MedicalEquipmentStatus,
    Procedure,
    ProcedureOutcome,
    ProcedureStatus,
    Treatment,
    TreatmentStatus,
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
from .clinical import ACT_CODE, ACT_PRIORITY, UCUM, period, practitioner_ref, subject

# --- procedures -------------------------------------------------------------------------------

PROCEDURE_STATUS = {
    ProcedureStatus.SCHEDULED: "preparation",
    ProcedureStatus.IN_PROGRESS: "in-progress",
    ProcedureStatus.COMPLETED: "completed",
    ProcedureStatus.CANCELLED: "not-done",
    ProcedureStatus.POSTPONED: "on-hold",
}


class ProcedureMap(ResourceMap):
    kind = "procedure"
    model = Procedure
    resource_type = "Procedure"
    extras = (
        "description",
        "procedure_setting",
        "procedure_duration",
        "anesthesia_type",
        "anesthesia_notes",
    )

    def to_resource(self, record: Procedure, ctx: ExportContext) -> dict:
        return self.base(
            record,
            ctx,
            status=PROCEDURE_STATUS.get(record.status, "unknown"),
            category={"text": record.procedure_type} if record.procedure_type else None,
            code=concept(record.procedure_name, {"code": record.procedure_code}),
            subject=subject(record, ctx),
            performedDateTime=iso(record.procedure_date),
            performer=(
                [{"actor": ctx.ref("practitioner", record.practitioner_id)}]
                if record.practitioner_id
                else []
            ),
            location={"display": record.facility} if record.facility else None,
            reasonReference=[ctx.ref("condition", record.condition_id)]
            if record.condition_id
            else [],
            outcome=(
                concept(
                    record.outcome, {"system": CODE_SYSTEM, "code": f"outcome-{record.outcome}"}
                )
                if record.outcome
                else None
            ),
            complication=[{"text": record.complications}] if record.complications else [],
            note=notes_out(record.notes),
        )

    def to_fields(self, resource: dict) -> Parsed:
        code = resource.get("code") or {}
        name = concept_text(code)
        if not name:
            raise CannotImport("The procedure has no name (code.text).")
        performed = resource.get("performedPeriod") or {}
        when = to_date(resource.get("performedDateTime")) or to_date(performed.get("start"))
        if when is None:
            raise CannotImport("The procedure has no date (performedDateTime).")
        reversed_status = {v: k for k, v in PROCEDURE_STATUS.items()}
        outcome = resource.get("outcome")
        parsed = Parsed(
            fields={
                "procedure_name": name[:300],
                "procedure_code": str(first(code.get("coding")).get("code") or "")[:50],
                "procedure_type": concept_text(resource.get("category"))[:50],
                "procedure_date": when,
                "status": reversed_status.get(resource.get("status"), ProcedureStatus.COMPLETED),
                "outcome": choice(
                    concept_code(outcome, CODE_SYSTEM).removeprefix("outcome-"), ProcedureOutcome
                )
                or choice(concept_text(outcome), ProcedureOutcome),
                "facility": str((resource.get("location") or {}).get("display") or "")[:300],
                "complications": "; ".join(
                    concept_text(c) for c in resource.get("complication") or () if concept_text(c)
                ),
                "notes": notes_in(resource),
                **self.read_extras(resource),
            }
        )
        practitioner_ref(parsed, first(resource.get("performer")).get("actor"))
        parsed.refer("condition", reference_of(first(resource.get("reasonReference"))))
        return parsed


# --- encounters -------------------------------------------------------------------------------

ENCOUNTER_PRIORITY = {
    EncounterPriority.ROUTINE: "R",
    EncounterPriority.URGENT: "UR",
    EncounterPriority.EMERGENCY: "EM",
}


class EncounterMap(ResourceMap):
    kind = "encounter"
    model = Encounter
    resource_type = "Encounter"
    extras = ("chief_complaint", "treatment_plan", "follow_up_instructions", "notes")

    def to_resource(self, record: Encounter, ctx: ExportContext) -> dict:
        priority = ENCOUNTER_PRIORITY.get(record.priority)
        return self.base(
            record,
            ctx,
            status="finished",
            **{"class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"}},
            type=[{"text": record.visit_type}] if record.visit_type else [],
            priority=(
                concept(record.priority, {"system": ACT_PRIORITY, "code": priority})
                if priority
                else None
            ),
            subject=subject(record, ctx),
            participant=(
                [{"individual": ctx.ref("practitioner", record.practitioner_id)}]
                if record.practitioner_id
                else []
            ),
            period={"start": iso(record.date)},
            length=(
                {"value": record.duration_minutes, "unit": "min", "system": UCUM, "code": "min"}
                if record.duration_minutes
                else None
            ),
            reasonCode=[{"text": record.reason}],
            reasonReference=[ctx.ref("condition", record.condition_id)]
            if record.condition_id
            else [],
            diagnosis=[{"condition": {"display": record.diagnosis}}] if record.diagnosis else [],
            location=[{"location": {"display": record.location}}] if record.location else [],
        )

    def to_fields(self, resource: dict) -> Parsed:
        reason = concept_text(first(resource.get("reasonCode"))) or concept_text(
            first(resource.get("type"))
        )
        if not reason:
            raise CannotImport("The encounter gives no reason (reasonCode.text).")
        when = to_date((resource.get("period") or {}).get("start"))
        if when is None:
            raise CannotImport("The encounter has no date (period.start).")
        length = resource.get("length") or {}
        minutes = length.get("value")
        if isinstance(minutes, int | float) and length.get("code") in ("h", "hour"):
            minutes *= 60
        priority = resource.get("priority")
        priority_code = concept_code(priority, ACT_PRIORITY)
        diagnosis = first(resource.get("diagnosis")).get("condition") or {}
        parsed = Parsed(
            fields={
                "reason": reason[:200],
                "date": when,
                "visit_type": concept_text(first(resource.get("type")))[:100],
                "priority": choice(concept_text(priority), EncounterPriority)
                or next((ours for ours, c in ENCOUNTER_PRIORITY.items() if c == priority_code), ""),
                "duration_minutes": round(minutes) if isinstance(minutes, int | float) else None,
                "diagnosis": str(diagnosis.get("display") or ""),
                "location": str(
                    (first(resource.get("location")).get("location") or {}).get("display") or ""
                )[:200],
                **self.read_extras(resource),
            }
        )
        if not parsed.fields["notes"]:
            parsed.fields["notes"] = notes_in(resource)
        practitioner_ref(parsed, first(resource.get("participant")).get("individual"))
        parsed.refer("condition", reference_of(first(resource.get("reasonReference"))))
        return parsed


# --- treatments -------------------------------------------------------------------------------

CAREPLAN_STATUS = {
    TreatmentStatus.PLANNED: "draft",
    TreatmentStatus.ACTIVE: "active",
    TreatmentStatus.IN_PROGRESS: "active",
    TreatmentStatus.COMPLETED: "completed",
    TreatmentStatus.CANCELLED: "revoked",
    TreatmentStatus.ON_HOLD: "on-hold",
}


class TreatmentMap(ResourceMap):
    kind = "treatment"
    model = Treatment
    resource_type = "CarePlan"
    extras = ("treatment_type", "frequency", "dosage", "mode", "outcome", "location")

    def to_resource(self, record: Treatment, ctx: ExportContext) -> dict:
        status, status_ext = self.coded_out("status", record.status, CAREPLAN_STATUS)
        return self.base(
            record,
            ctx,
            extension=[status_ext],
            status=status,
            intent="plan",
            category=[{"text": record.treatment_category}] if record.treatment_category else [],
            title=record.treatment_name,
            description=record.description,
            subject=subject(record, ctx),
            period=period(record.start_date, record.end_date),
            author=ctx.ref("practitioner", record.practitioner_id)
            if record.practitioner_id
            else None,
            addresses=[ctx.ref("condition", record.condition_id)] if record.condition_id else [],
            note=notes_out(record.notes),
        )

    def to_fields(self, resource: dict) -> Parsed:
        name = str(resource.get("title") or "").strip() or concept_text(
            first(resource.get("category"))
        )
        if not name:
            raise CannotImport("The care plan has no title.")
        plan_period = resource.get("period") or {}
        parsed = Parsed(
            fields={
                "treatment_name": name[:300],
                "treatment_category": concept_text(first(resource.get("category")))[:200],
                "description": str(resource.get("description") or ""),
                "start_date": to_date(plan_period.get("start")),
                "end_date": to_date(plan_period.get("end")),
                "status": self.coded_in(
                    resource,
                    "status",
                    resource.get("status"),
                    CAREPLAN_STATUS,
                    TreatmentStatus,
                    "active",
                ),
                "notes": notes_in(resource),
                **self.read_extras(resource),
            }
        )
        if not parsed.fields["mode"]:
            parsed.fields["mode"] = "simple"
        practitioner_ref(parsed, resource.get("author"))
        parsed.refer("condition", reference_of(first(resource.get("addresses"))))
        return parsed


# --- medical equipment ------------------------------------------------------------------------

DEVICE_USE_STATUS = {
    MedicalEquipmentStatus.ACTIVE: "active",
    MedicalEquipmentStatus.INACTIVE: "stopped",
    MedicalEquipmentStatus.LOST: "stopped",
    MedicalEquipmentStatus.REPLACED: "completed",
    MedicalEquipmentStatus.RETURNED: "completed",
}
DEVICE_STATUS = {"active": "active", "stopped": "inactive", "completed": "inactive"}


class MedicalEquipmentMap(ResourceMap):
    kind = "medical_equipment"
    model = MedicalEquipment
    resource_type = "DeviceUseStatement"
    extras = (
        "prescribed_date",
        "last_service_date",
        "next_service_date",
        "usage_instructions",
        "supplier",
    )

    def to_resource(self, record: MedicalEquipment, ctx: ExportContext) -> dict:
        status, status_ext = self.coded_out("status", record.status, DEVICE_USE_STATUS)
        device = {
            "resourceType": "Device",
            "id": "device",
            "status": DEVICE_STATUS[status],
            "manufacturer": record.manufacturer,
            "serialNumber": record.serial_number,
            "deviceName": [{"name": record.equipment_name, "type": "user-friendly-name"}],
            "modelNumber": record.model_number,
            "type": {"text": record.equipment_type},
            "patient": subject(record, ctx),
        }
        return self.base(
            record,
            ctx,
            contained=[{k: v for k, v in device.items() if v}],
            extension=[status_ext],
            status=status,
            subject=subject(record, ctx),
            source=ctx.ref("practitioner", record.practitioner_id)
            if record.practitioner_id
            else None,
            device={"reference": "#device"},
            note=notes_out(record.notes),
        )

    def to_fields(self, resource: dict) -> Parsed:
        device_ref = str((resource.get("device") or {}).get("reference") or "")
        device = next(
            (
                c
                for c in resource.get("contained") or ()
                if isinstance(c, dict)
                and c.get("resourceType") == "Device"
                and f"#{c.get('id')}" == device_ref
            ),
            None,
        )
        name = ""
        if device:
            name = str(first(device.get("deviceName")).get("name") or "")
        name = name or str((resource.get("device") or {}).get("display") or "")
        if not name:
            raise CannotImport("The device has no name (a contained Device's deviceName).")
        device = device or {}
        parsed = Parsed(
            fields={
                "equipment_name": name[:200],
                "equipment_type": (concept_text(device.get("type")) or name)[:100],
                "manufacturer": str(device.get("manufacturer") or "")[:200],
                "model_number": str(device.get("modelNumber") or "")[:100],
                "serial_number": str(device.get("serialNumber") or "")[:100],
                "status": self.coded_in(
                    resource,
                    "status",
                    resource.get("status"),
                    DEVICE_USE_STATUS,
                    MedicalEquipmentStatus,
                    "active",
                ),
                "notes": notes_in(resource),
                **self.read_extras(resource),
            }
        )
        practitioner_ref(parsed, resource.get("source"))
        return parsed


MAPS = [
    ProcedureMap(),
    EncounterMap(),
    TreatmentMap(),
    MedicalEquipmentMap(),
]
