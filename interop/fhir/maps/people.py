"""People and organisations: the patient, the directory (practitioners, practices,
pharmacies), insurances (Coverage) and emergency contacts (RelatedPerson)."""

from __future__ import annotations

from patients.choices import PatientBloodType, PatientGender
from patients.models import Patient
from records.models import (
    EmergencyContact,
    EmergencyContactRelationship,
    Insurance,
    InsuranceRelationshipToHolder,
    InsuranceStatus,
    InsuranceType,
    MedicalSpecialty,
    Pharmacy,
    Practice,
    Practitioner,
)

from .base import (
    CODE_SYSTEM,
    CannotImport,
    ExportContext,
    ImportContext,
    Parsed,
    ResourceMap,
    choice,
    concept,
    concept_code,
    concept_text,
    first,
    iso,
    reference_of,
    to_date,
)

ORG_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/organization-type"


def telecom(*points: tuple[str, str, str]) -> list[dict]:
    """ContactPoints from (system, use, value) triples, empty values left out."""
    out = []
    for system, use, value in points:
        if value:
            point = {"system": system, "value": value}
            if use:
                point["use"] = use
            out.append(point)
    return out


def telecom_in(resource: dict, system: str, use: str | None = None, skip: int = 0) -> str:
    """The `skip`-th contact point of `system` (and `use` when given)."""
    found = [
        point.get("value", "")
        for point in resource.get("telecom") or ()
        if isinstance(point, dict)
        and point.get("system") == system
        and (use is None or point.get("use") == use)
    ]
    return found[skip] if len(found) > skip else ""


def name_text(name: dict) -> str:
    if not isinstance(name, dict):
        return ""
    if name.get("text"):
        return str(name["text"]).strip()
    parts = [*(name.get("prefix") or ()), *(name.get("given") or ()), name.get("family") or ""]
    return " ".join(str(p) for p in parts if p).strip()


class DirectoryMap(ResourceMap):
    """Directory entries are shared reference data: exported when a record refers to them,
    matched by name on import (created when missing), never changed by an import."""

    directory = True

    def records(self, patient, user):
        return self.model.objects.none()


# --- patient ----------------------------------------------------------------------------------


class PatientMap(ResourceMap):
    kind = "patient"
    model = Patient
    resource_type = "Patient"
    extras = ("height", "weight", "relationship_to_self")

    def records(self, patient, user):
        return Patient.objects.filter(pk=patient.pk)

    def to_resource(self, record: Patient, ctx: ExportContext) -> dict:
        details = record.address_details if isinstance(record.address_details, dict) else {}
        address = {
            "text": record.address,
            "line": [details["street"]] if details.get("street") else [],
            "city": details.get("city"),
            "state": details.get("state"),
            "postalCode": details.get("zip_code"),
            "country": details.get("country"),
        }
        address = {k: v for k, v in address.items() if v}
        return self.base(
            record,
            ctx,
            extension=[self.ext("blood_type", record.blood_type)],
            name=[{"family": record.last_name, "given": [record.first_name]}],
            birthDate=iso(record.birth_date),
            gender=record.gender,
            telecom=telecom(("phone", "", record.phone_number), ("email", "", record.email)),
            address=[address] if address else [],
            generalPractitioner=(
                [ctx.ref("practitioner", record.physician_id)] if record.physician_id else []
            ),
        )

    def to_fields(self, resource: dict) -> Parsed:
        name = next(
            (
                n
                for n in resource.get("name") or ()
                if isinstance(n, dict) and n.get("use") in (None, "official", "usual")
            ),
            first(resource.get("name")),
        )
        given = " ".join(str(g) for g in name.get("given") or () if g)
        family = str(name.get("family") or "")
        if not (given or family) and name.get("text"):
            given, _, family = str(name["text"]).rpartition(" ")
        address = first(resource.get("address"))
        details = {
            "street": " ".join(address.get("line") or ()),
            "city": address.get("city") or "",
            "state": address.get("state") or "",
            "zip_code": address.get("postalCode") or "",
            "country": address.get("country") or "",
        }
        has_details = any(details.values())
        text = address.get("text") or ", ".join(
            v
            for v in (
                details["street"],
                details["city"],
                details["state"],
                details["zip_code"],
                details["country"],
            )
            if v
        )
        fields = {
            "first_name": given.strip(),
            "last_name": family.strip(),
            "gender": choice(resource.get("gender"), PatientGender),
            "blood_type": choice(self.ext_value(resource, "blood_type"), PatientBloodType),
            "phone_number": telecom_in(resource, "phone"),
            "email": telecom_in(resource, "email"),
            "address": text,
            "address_details": {k: v for k, v in details.items() if v} if has_details else None,
            **self.read_extras(resource),
        }
        if to_date(resource.get("birthDate")):
            fields["birth_date"] = to_date(resource.get("birthDate"))
        # The import updates an existing patient: a demographic the resource does not carry
        # keeps its value (another system's Patient is often a name and a birth date only).
        carried = {
            "first_name": bool(fields["first_name"]),
            "last_name": bool(fields["last_name"]),
            "gender": "gender" in resource,
            "phone_number": bool(resource.get("telecom")),
            "email": bool(resource.get("telecom")),
            "address": bool(resource.get("address")),
            "address_details": bool(resource.get("address")),
            **{
                name: self.ext_value(resource, name) is not None
                for name in ("blood_type", *self.extras)
            },
        }
        fields = {k: v for k, v in fields.items() if carried.get(k, True)}
        parsed = Parsed(fields=fields)
        parsed.refer("physician", reference_of(first(resource.get("generalPractitioner"))))
        return parsed


# --- directory --------------------------------------------------------------------------------


class PractitionerMap(DirectoryMap):
    kind = "practitioner"
    model = Practitioner
    resource_type = "Practitioner"
    extras = ("rating",)

    def queryset(self, queryset):
        return queryset.select_related("specialty")

    def to_resource(self, record: Practitioner, ctx: ExportContext) -> dict:
        return self.base(
            record,
            ctx,
            extension=[
                {
                    "url": "urn:medikeep:practitioner:practice",
                    "valueReference": ctx.ref("practice", record.practice_id),
                }
                if record.practice_id
                else None
            ],
            name=[{"text": record.name}],
            telecom=telecom(
                ("phone", "work", record.phone_number),
                ("email", "work", record.email),
                ("url", "work", record.website),
            ),
            qualification=[
                {
                    "code": concept(
                        record.specialty.name,
                        {
                            "system": CODE_SYSTEM,
                            "code": "specialty",
                            "display": record.specialty.name,
                        },
                    )
                }
            ],
        )

    def to_fields(self, resource: dict) -> Parsed:
        name = name_text(first(resource.get("name")))
        if not name:
            raise CannotImport("The practitioner has no name.")
        specialty = concept_text(first(resource.get("qualification")).get("code"))
        fields = {
            "name": name,
            "phone_number": telecom_in(resource, "phone"),
            "email": telecom_in(resource, "email"),
            "website": telecom_in(resource, "url"),
            "specialty_name": specialty,
            **self.read_extras(resource),
        }
        parsed = Parsed(fields=fields)
        parsed.refer("practice", reference_of(self.ext_value(resource, "practice")))
        return parsed

    def before_save(self, instance: Practitioner, parsed: Parsed, ictx: ImportContext) -> None:
        name = (parsed.fields.get("specialty_name") or "").strip()
        if not name:
            raise CannotImport("The practitioner has no specialty (one is required here).")
        specialty = MedicalSpecialty.objects.filter(name__iexact=name).first()
        if specialty is None:
            specialty = MedicalSpecialty(name=name, created_by=ictx.user)
            specialty.full_clean()
            specialty.save()
        instance.specialty = specialty


class PracticeMap(DirectoryMap):
    kind = "practice"
    model = Practice
    resource_type = "Organization"
    extras = ("patient_portal_url", "notes", "locations")
    type_code = "prov"

    def to_resource(self, record: Practice, ctx: ExportContext) -> dict:
        return self.base(
            record,
            ctx,
            type=[
                concept(
                    "Practice",
                    {"system": ORG_TYPE_SYSTEM, "code": "prov", "display": "Healthcare Provider"},
                    {"system": CODE_SYSTEM, "code": "practice"},
                )
            ],
            name=record.name,
            telecom=telecom(
                ("phone", "work", record.phone_number),
                ("fax", "work", record.fax_number),
                ("url", "work", record.website),
            ),
        )

    def claims_foreign(self, resource: dict) -> bool:
        return not PharmacyMap.looks_like_pharmacy(resource)

    def to_fields(self, resource: dict) -> Parsed:
        name = str(resource.get("name") or "").strip()
        if not name:
            raise CannotImport("The organization has no name.")
        return Parsed(
            fields={
                "name": name,
                "phone_number": telecom_in(resource, "phone"),
                "fax_number": telecom_in(resource, "fax"),
                "website": telecom_in(resource, "url"),
                **self.read_extras(resource),
            }
        )


class PharmacyMap(DirectoryMap):
    kind = "pharmacy"
    model = Pharmacy
    resource_type = "Organization"
    extras = (
        "store_number",
        "hours",
        "drive_through",
        "twenty_four_hour",
        "specialty_services",
    )

    @staticmethod
    def looks_like_pharmacy(resource: dict) -> bool:
        for kind in resource.get("type") or ():
            if concept_code(kind, CODE_SYSTEM) == "pharmacy":
                return True
            if "pharm" in concept_text(kind).lower():
                return True
        return "pharm" in str(resource.get("name") or "").lower()

    def claims_foreign(self, resource: dict) -> bool:
        return self.looks_like_pharmacy(resource)

    def to_resource(self, record: Pharmacy, ctx: ExportContext) -> dict:
        address = {
            "line": [record.street_address] if record.street_address else [],
            "city": record.city,
            "state": record.state,
            "postalCode": record.zip_code,
            "country": record.country,
        }
        address = {k: v for k, v in address.items() if v}
        return self.base(
            record,
            ctx,
            type=[concept("Pharmacy", {"system": CODE_SYSTEM, "code": "pharmacy"})],
            name=record.name,
            alias=[record.brand] if record.brand else [],
            telecom=telecom(
                ("phone", "work", record.phone_number),
                ("fax", "work", record.fax_number),
                ("email", "work", record.email),
                ("url", "work", record.website),
            ),
            address=[address] if address else [],
        )

    def to_fields(self, resource: dict) -> Parsed:
        name = str(resource.get("name") or "").strip()
        if not name:
            raise CannotImport("The organization has no name.")
        address = first(resource.get("address"))
        return Parsed(
            fields={
                "name": name,
                "brand": str(first(resource.get("alias")) or ""),
                "street_address": " ".join(address.get("line") or ()),
                "city": address.get("city") or "",
                "state": address.get("state") or "",
                "zip_code": address.get("postalCode") or "",
                "country": address.get("country") or "",
                "phone_number": telecom_in(resource, "phone"),
                "fax_number": telecom_in(resource, "fax"),
                "email": telecom_in(resource, "email"),
                "website": telecom_in(resource, "url"),
                **self.read_extras(resource),
            }
        )


# --- insurance --------------------------------------------------------------------------------

COVERAGE_STATUS = {
    InsuranceStatus.ACTIVE: "active",
    InsuranceStatus.INACTIVE: "cancelled",
    InsuranceStatus.EXPIRED: "cancelled",
    InsuranceStatus.PENDING: "draft",
}
SUBSCRIBER_RELATIONSHIP_SYSTEM = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
SUBSCRIBER_RELATIONSHIP = {
    InsuranceRelationshipToHolder.SELF: "self",
    InsuranceRelationshipToHolder.SPOUSE: "spouse",
    InsuranceRelationshipToHolder.CHILD: "child",
    InsuranceRelationshipToHolder.DEPENDENT: "other",
    InsuranceRelationshipToHolder.OTHER: "other",
}
COVERAGE_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/coverage-class"


class InsuranceMap(ResourceMap):
    kind = "insurance"
    model = Insurance
    resource_type = "Coverage"
    extras = ("employer_group", "policy_number", "coverage_details", "contact_info", "notes")

    def to_resource(self, record: Insurance, ctx: ExportContext) -> dict:
        status, status_ext = self.coded_out("status", record.status, COVERAGE_STATUS)
        relationship, relationship_ext = self.coded_out(
            "relationship_to_holder", record.relationship_to_holder, SUBSCRIBER_RELATIONSHIP
        )
        classes = []
        for code, value in (("group", record.group_number), ("plan", record.plan_name)):
            if value:
                classes.append(
                    {
                        "type": {"coding": [{"system": COVERAGE_CLASS_SYSTEM, "code": code}]},
                        "value": value,
                    }
                )
        return self.base(
            record,
            ctx,
            extension=[status_ext, relationship_ext],
            status=status,
            type=concept(
                record.get_insurance_type_display(),
                {"system": CODE_SYSTEM, "code": f"insurance-{record.insurance_type}"},
            ),
            policyHolder=(
                {"display": record.policy_holder_name} if record.policy_holder_name else None
            ),
            subscriber={"display": record.member_name} if record.member_name else None,
            subscriberId=record.member_id,
            beneficiary=ctx.ref("patient", record.patient_id),
            relationship=(
                concept(
                    record.get_relationship_to_holder_display(),
                    {"system": SUBSCRIBER_RELATIONSHIP_SYSTEM, "code": relationship},
                )
                if record.relationship_to_holder
                else None
            ),
            period={
                k: v
                for k, v in (
                    ("start", iso(record.effective_date)),
                    ("end", iso(record.expiration_date)),
                )
                if v
            },
            payor=[{"display": record.company_name}],
            order=1 if record.is_primary else None,
            **{"class": classes},
        )

    def to_fields(self, resource: dict) -> Parsed:
        company = str(first(resource.get("payor")).get("display") or "").strip()
        if not company:
            raise CannotImport("The coverage names no insurer (payor.display).")
        period = resource.get("period") or {}
        start = to_date(period.get("start"))
        if start is None:
            raise CannotImport("The coverage has no start date (period.start).")
        kind = resource.get("type") or {}
        code = concept_code(kind, CODE_SYSTEM).removeprefix("insurance-")
        insurance_type = choice(code, InsuranceType) or choice(
            concept_text(kind), InsuranceType, InsuranceType.MEDICAL
        )
        classes = {
            concept_code(item.get("type"), COVERAGE_CLASS_SYSTEM): item.get("value", "")
            for item in resource.get("class") or ()
            if isinstance(item, dict)
        }
        relationship = resource.get("relationship")
        relationship_code = concept_code(relationship, SUBSCRIBER_RELATIONSHIP_SYSTEM)
        fields = {
            "company_name": company,
            "insurance_type": insurance_type,
            "status": self.coded_in(
                resource,
                "status",
                resource.get("status"),
                COVERAGE_STATUS,
                InsuranceStatus,
                "active",
            ),
            "member_id": str(resource.get("subscriberId") or ""),
            "member_name": str((resource.get("subscriber") or {}).get("display") or ""),
            "policy_holder_name": str((resource.get("policyHolder") or {}).get("display") or ""),
            "relationship_to_holder": (
                self.coded_in(
                    resource,
                    "relationship_to_holder",
                    relationship_code,
                    SUBSCRIBER_RELATIONSHIP,
                    InsuranceRelationshipToHolder,
                    "",
                )
                if relationship
                else ""
            ),
            "effective_date": start,
            "expiration_date": to_date(period.get("end")),
            "is_primary": resource.get("order") == 1,
            "group_number": classes.get("group", ""),
            "plan_name": classes.get("plan", ""),
            **self.read_extras(resource),
        }
        return Parsed(fields=fields)


# --- emergency contacts -----------------------------------------------------------------------

ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CONTACT_ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0131"
ROLE_CODES = {
    "spouse": "SPS",
    "parent": "PRN",
    "mother": "MTH",
    "father": "FTH",
    "child": "CHILD",
    "son": "SONC",
    "daughter": "DAUC",
    "sibling": "SIB",
    "brother": "BRO",
    "sister": "SIS",
    "grandparent": "GRPRN",
    "grandmother": "GRMTH",
    "grandfather": "GRFTH",
    "grandchild": "GRNDCHILD",
    "grandson": "GRNDSON",
    "granddaughter": "GRNDDAU",
    "aunt": "AUNT",
    "uncle": "UNCLE",
    "cousin": "COUSN",
    "friend": "FRND",
    "neighbor": "NBOR",
    "guardian": "GUARD",
    "partner": "SIGOTHR",
}


class EmergencyContactMap(ResourceMap):
    kind = "emergency_contact"
    model = EmergencyContact
    resource_type = "RelatedPerson"
    extras = ("is_primary", "notes")

    def to_resource(self, record: EmergencyContact, ctx: ExportContext) -> dict:
        role = ROLE_CODES.get(record.relationship)
        return self.base(
            record,
            ctx,
            active=record.is_active,
            patient=ctx.ref("patient", record.patient_id),
            relationship=[
                concept(
                    record.relationship,
                    {"system": ROLE_CODE_SYSTEM, "code": role} if role else None,
                ),
                concept(
                    "", {"system": CONTACT_ROLE_SYSTEM, "code": "C", "display": "Emergency Contact"}
                ),
            ],
            name=[{"text": record.name}],
            telecom=telecom(
                ("phone", "home", record.phone_number),
                ("phone", "mobile", record.secondary_phone),
                ("email", "", record.email),
            ),
            address=[{"text": record.address}] if record.address else [],
        )

    def to_fields(self, resource: dict) -> Parsed:
        name = name_text(first(resource.get("name")))
        if not name:
            raise CannotImport("The related person has no name.")
        relationship = ""
        for item in resource.get("relationship") or ():
            relationship = choice(concept_text(item), EmergencyContactRelationship)
            code = concept_code(item, ROLE_CODE_SYSTEM)
            if not relationship and code:
                relationship = next((ours for ours, c in ROLE_CODES.items() if c == code), "")
            if relationship:
                break
        phones = [
            p.get("value", "")
            for p in resource.get("telecom") or ()
            if isinstance(p, dict) and p.get("system") == "phone"
        ]
        return Parsed(
            fields={
                "name": name,
                "relationship": relationship or EmergencyContactRelationship.OTHER,
                "phone_number": phones[0] if phones else "",
                "secondary_phone": phones[1] if len(phones) > 1 else "",
                "email": telecom_in(resource, "email"),
                "address": str(first(resource.get("address")).get("text") or ""),
                "is_active": resource.get("active") is not False,
                **self.read_extras(resource),
            }
        )


MAPS = [
    PracticeMap(),
    PractitionerMap(),
    PharmacyMap(),
    PatientMap(),
    InsuranceMap(),
    EmergencyContactMap(),
]
