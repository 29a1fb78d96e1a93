"""Family history: a FamilyMember is a FamilyMemberHistory, its conditions the resource's
`condition` entries (FamilyCondition rows here, nested in FHIR).

A condition entry has no identifier element in FHIR; ours travel in an extension
(urn:medikeep:family_condition:identifier) so that importing twice updates the same rows.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Prefetch

from interop.fhir.codes import (
    ADMINISTRATIVE_GENDER,
    ICD10,
    RELATIONSHIP_CODES,
    RELATIONSHIP_FROM_CODE,
    ROLE_CODE,
    UCUM,
    choice_of,
    code_in,
    coding,
    codings,
    fhir_date,
    number,
    parse_date,
    require_type,
    tolerant,
)
from interop.fhir.maps.base import (
    CannotImport,
    ExportContext,
    Parsed,
    ResourceMap,
    concept_text,
    extension_url,
    notes_in,
    notes_out,
)
from patients.choices import PatientGender
from records.models import FamilyCondition, FamilyMember, FamilyRelationship

_YEAR = re.compile(r"^\d{4}")


def _year_or_date(day, year) -> str | None:
    """A FHIR date: the day when known, else the year alone (FHIR dates may be a year)."""
    return fhir_date(day) or (str(year) if year else None)


def _read_year_or_date(value, what: str) -> tuple[Any, int | None]:
    """(date or None, year or None) from a FHIR date of any precision."""
    if not isinstance(value, str) or not _YEAR.match(value):
        return None, None
    if len(value) >= 10:
        day = parse_date(value, what)
        return day, day.year
    return None, int(value[:4])


class FamilyConditionMap(ResourceMap):
    """A condition of a family member: one `condition` entry of its FamilyMemberHistory."""

    kind = "family_condition"
    model = FamilyCondition
    resource_type = "FamilyMemberHistory"
    nested_in = "family_member"
    extras = ("condition_type", "severity", "status")

    def claims_foreign(self, resource: dict[str, Any]) -> bool:
        return False  # read inside its family member's resource

    def element(self, record: FamilyCondition, ctx: ExportContext) -> dict[str, Any]:
        identifiers = [
            ctx.identifier(self.kind, record.pk),
            *ctx.kept.get((self.kind, record.pk), []),
        ]
        url = extension_url(self.kind, "identifier")
        out: dict[str, Any] = {
            "extension": [{"url": url, "valueIdentifier": i} for i in identifiers]
            + self.extras_out(record),
            "code": {"text": record.condition_name},
        }
        if record.icd10_code:
            out["code"]["coding"] = [coding(ICD10, record.icd10_code)]
        if record.diagnosis_age is not None:
            out["onsetAge"] = {"value": record.diagnosis_age, "unit": "years"}
            out["onsetAge"] |= {"system": UCUM, "code": "a"}
        if record.notes:
            out["note"] = notes_out(record.notes)
        return out

    def from_element(self, element: dict[str, Any]) -> Parsed:
        name = concept_text(element.get("code"))
        if len(name) < 2:
            raise CannotImport("a condition has no name (code.text)")
        icd10 = code_in(element.get("code"), ICD10) or next(
            (
                c.get("code")
                for c in codings(element.get("code"))
                if "icd-10" in str(c.get("system", "")).lower() and c.get("code")
            ),
            "",
        )
        url = extension_url(self.kind, "identifier")
        identifiers = [
            (item["valueIdentifier"]["system"], item["valueIdentifier"]["value"])
            for item in element.get("extension") or []
            if isinstance(item, dict)
            and item.get("url") == url
            and isinstance(item.get("valueIdentifier"), dict)
            and item["valueIdentifier"].get("system")
            and item["valueIdentifier"].get("value")
        ]
        age = element.get("onsetAge") or (element.get("onsetRange") or {}).get("low")
        age = number(age.get("value"), "onsetAge") if isinstance(age, dict) else None
        extras = self.read_extras(element)
        return Parsed(
            fields={
                "condition_name": name[:200],
                "icd10_code": str(icd10).strip().upper()[:10],
                "diagnosis_age": None if age is None else round(age),
                "notes": notes_in(element),
                **{k: v if v is not None else "" for k, v in extras.items()},
            },
            parent_field="family_member",
            identifiers=identifiers,
        )


CONDITIONS = FamilyConditionMap()


class FamilyMemberMap(ResourceMap):
    kind = "family_member"
    model = FamilyMember
    resource_type = "FamilyMemberHistory"
    extras = ("medical_history",)

    def queryset(self, queryset):
        # In the order they were made, so that a copy made from the resource exports alike.
        conditions = FamilyCondition.objects.order_by("pk")
        return queryset.prefetch_related(Prefetch("family_conditions", queryset=conditions))

    def to_resource(self, record: FamilyMember, ctx: ExportContext) -> dict[str, Any]:
        code, display = RELATIONSHIP_CODES[record.relationship]
        deceased: dict[str, Any] = {}
        if record.death_date or record.death_year:
            deceased["deceasedDate"] = _year_or_date(record.death_date, record.death_year)
        elif record.is_deceased:
            deceased["deceasedBoolean"] = True
        sex = None
        if record.gender:
            label = record.get_gender_display()
            sex = {"coding": [coding(ADMINISTRATIVE_GENDER, record.gender, label)], "text": label}
        return self.base(
            record,
            ctx,
            status="completed",
            patient=ctx.ref("patient", record.patient_id),
            name=record.name,
            relationship={
                "coding": [coding(ROLE_CODE, code, display)],
                "text": record.get_relationship_display(),
            },
            sex=sex,
            bornDate=_year_or_date(record.birth_date, record.birth_year),
            **deceased,
            note=notes_out(record.notes),
            condition=[CONDITIONS.element(c, ctx) for c in record.family_conditions.all()],
        )

    @tolerant
    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        require_type(resource, "FamilyMemberHistory")
        if resource.get("status") == "entered-in-error":
            raise CannotImport("the family history was entered in error")
        parsed = Parsed()
        name = str(resource.get("name") or "").strip()
        if not name and not resource.get("relationship"):
            raise CannotImport("the relative has neither a name nor a relationship")
        relationship = self._relationship(resource.get("relationship"), parsed)
        # Others often name a relative by relationship only ("mother").
        name = name or FamilyRelationship(relationship).label
        sex = resource.get("sex")
        gender = code_in(sex, ADMINISTRATIVE_GENDER) or choice_of(
            concept_text(sex), PatientGender.choices
        )
        born_date, born_year = _read_year_or_date(resource.get("bornDate"), "bornDate")
        if born_year is None:
            born_text = resource.get("bornString") or (resource.get("bornPeriod") or {}).get(
                "start"
            )
            _, born_year = _read_year_or_date(born_text, "bornPeriod.start")
        death_date, death_year = _read_year_or_date(resource.get("deceasedDate"), "deceasedDate")
        deceased = bool(death_year) or any(
            resource.get(key)
            for key in ("deceasedBoolean", "deceasedAge", "deceasedRange", "deceasedString")
        )
        parsed.fields = {
            "name": name[:100],
            "relationship": relationship,
            "gender": gender if gender in PatientGender.values else "",
            "birth_date": born_date,
            "birth_year": born_year,
            "is_deceased": deceased,
            "death_date": death_date,
            "death_year": death_year,
            "notes": notes_in(resource),
            **self.read_extras(resource),
        }
        for element in resource.get("condition") or []:
            try:
                parsed.children.append((CONDITIONS, CONDITIONS.from_element(element)))
            except CannotImport as exc:
                parsed.warnings.append(f"A condition was left out: {exc}")
        return parsed

    @staticmethod
    def _relationship(concept, parsed: Parsed) -> str:
        code = code_in(concept, ROLE_CODE) or next(
            (c.get("code") for c in codings(concept) if not c.get("system")), None
        )
        found = RELATIONSHIP_FROM_CODE.get(code or "")
        found = found or choice_of(concept_text(concept), FamilyRelationship.choices)
        if not found:
            parsed.warnings.append(
                f"Relationship {concept_text(concept) or code!r} is kept as other."
            )
        return found or FamilyRelationship.OTHER


MAPS = [FamilyMemberMap(), CONDITIONS]
