"""The shape every FHIR mapping has: one ResourceMap per record kind, both directions.

A map turns one of our rows into one FHIR R4 resource (a dict in FHIR JSON) and a FHIR resource
back into field values for our model. Export, import, the round trip and the emergency summary
only ever go through this interface, iterating the registry in interop/fhir/maps/__init__.py;
nothing outside the maps names a record type.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import models
from django.utils.dateparse import parse_date, parse_datetime

# Marks what our exports are, so an import of our own bundle picks the right map at once
# (resource types such as Observation and Condition carry several of our kinds).
KIND_TAG_SYSTEM = "urn:medikeep:record-kind"
# A record's own tags travel as meta.tag codings of this system (the importer reads them back).
RECORD_TAG_SYSTEM = "urn:medikeep:tag"
# Identifier system under which a resource without identifiers is remembered by its fullUrl.
FULL_URL_SYSTEM = "urn:medikeep:fullUrl"
# Codings of our own value sets (categories and types that have no FHIR code system).
CODE_SYSTEM = "urn:medikeep:code"


def extension_url(kind: str, name: str) -> str:
    """The url of the extension that carries our field `name` of `kind`."""
    return f"urn:medikeep:{kind}:{name}"


@dataclass
class ExportContext:
    """What a map needs to write references and links while exporting."""

    system: str  # this server's identifier system (ServerIdentity.system())
    base_url: str  # "https://host" of the request, for links to our own endpoints
    namespace: uuid.UUID  # uuid5 namespace of this server: fullUrls are stable across exports
    include_file_data: bool = False
    # Identifiers records came with from elsewhere, loaded once per export by the exporter:
    # {(kind, pk): [{"system": …, "value": …}, …]} (ExternalIdentifier rows).
    kept: dict[tuple[str, int], list[dict[str, str]]] = field(default_factory=dict)

    def resource_id(self, kind: str, pk) -> str:
        """The id (and urn:uuid fullUrl) of one of our rows in every bundle we write."""
        return str(uuid.uuid5(self.namespace, f"{kind}/{pk}"))

    def ref(self, kind: str, pk) -> dict[str, str]:
        """A FHIR Reference to one of our rows (present in the same bundle)."""
        return {"reference": f"urn:uuid:{self.resource_id(kind, pk)}"}

    def identifier(self, kind: str, pk) -> dict[str, str]:
        return {"system": self.system, "value": f"{kind}/{pk}"}


@dataclass
class Parsed:
    """What a map read from one FHIR resource.

    `fields`: model field values (plain values; no foreign keys to other records).
    `references`: FK field name → the FHIR reference string found in the resource (for
        example {"lab_result": "urn:uuid:…"} or {"practitioner": "urn:uuid:…"}), or the
        Reference dict itself when it has only an identifier; the importer resolves them to
        rows of the same import or already in the database.
    `children`: records that live inside this resource in FHIR but are rows of their own here
        (a FamilyMemberHistory's conditions): (map, Parsed) pairs, whose FK to this record is
        named by `parent_field` in their Parsed.
    `owns`: references to other resources of the bundle that are our children (a
        DiagnosticReport's `result` Observations): (reference string, child's FK field name).
    `identifiers`: (system, value) of the resource, ours and others'.
    `warnings`: what could not be carried (shown in the dry-run answer).
    """

    fields: dict[str, Any] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    children: list[tuple[ResourceMap, Parsed]] = field(default_factory=list)
    owns: list[tuple[str, str]] = field(default_factory=list)
    parent_field: str | None = None
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def refer(self, fk_name: str, reference) -> None:
        """Note a reference to resolve into `fk_name`, when the resource has one."""
        if reference:
            self.references[fk_name] = reference


class CannotImport(Exception):
    """This resource cannot become a record here; the message says why (a skip reason)."""


@dataclass
class ImportContext:
    """What the importer tells a map's hooks: whose data, who imports, and whether it is a
    dry run (the whole import is then rolled back; hooks must not write outside the database,
    for example to file storage, when `dry_run` is set)."""

    patient: Any
    user: Any
    dry_run: bool = False
    # resolve(reference) -> the row a reference of the bundle became (any kind), or None.
    resolve: Callable[[str], models.Model | None] | None = None
    # Storage names a hook wrote; the importer deletes them again if their rows roll back.
    stored: list[str] = field(default_factory=list)


class ResourceMap:
    """One record kind ↔ one FHIR resource type. Subclasses set the class attributes and
    write the two conversions."""

    # RecordKind.name ("medication"), or "patient", "practitioner", "practice", "pharmacy", "file"
    kind: str
    model: type[models.Model]
    resource_type: str  # "MedicationStatement"
    # Kinds exported inside another kind's resource (family conditions) set this and are not
    # exported on their own.
    nested_in: str | None = None

    # Model fields that have no FHIR element: written as extensions with the url
    # urn:medikeep:<kind>:<field> by base() and read back by read_extras().
    extras: tuple[str, ...] = ()

    def queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        """select_related / prefetch_related for what to_resource reads (no query per row)."""
        return queryset

    def records(self, patient, user) -> models.QuerySet:
        """The rows of `patient` that `user` may see and the export includes (before
        queryset()). Maps of models that are not PatientOwnedModel override it."""
        return self.model.objects.for_patient(patient.pk).visible_to(user)

    def before_save(self, instance, parsed: Parsed, ictx: ImportContext) -> None:
        """Called by the importer just before full_clean() and save() of `instance` (fields
        and resolved references set): a place to create what the row points at."""

    def save(self, instance, parsed: Parsed, ictx: ImportContext) -> None:
        """Writes a validated row. Maps whose rows are made by a service override it."""
        instance.save()

    def to_resource(self, record, ctx: ExportContext) -> dict[str, Any]:
        raise NotImplementedError

    def claims(self, resource: dict[str, Any]) -> bool:
        """Whether this map reads `resource` (called only for resources of resource_type).
        Our own exports are recognised by their KIND_TAG_SYSTEM tag; others by code/category."""
        tags = resource.get("meta", {}).get("tag", [])
        ours = [t.get("code") for t in tags if t.get("system") == KIND_TAG_SYSTEM]
        return ours == [self.kind] if ours else self.claims_foreign(resource)

    def claims_foreign(self, resource: dict[str, Any]) -> bool:
        """Whether a resource from another system is of this kind (no tag of ours)."""
        return True

    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        """Read `resource`; raise CannotImport with the reason when it cannot be a record."""
        raise NotImplementedError

    # --- helpers for subclasses ---

    def base(self, record, ctx: ExportContext, **elements) -> dict[str, Any]:
        """The common frame: resourceType, id, meta tag, identifiers, then the elements.

        Also adds the record's tags (meta.tag, RECORD_TAG_SYSTEM) and the `extras` as
        extensions after any extension the map passes itself."""
        identifiers = [
            ctx.identifier(self.kind, record.pk),
            *ctx.kept.get((self.kind, record.pk), []),
        ]
        tags = [{"system": KIND_TAG_SYSTEM, "code": self.kind}]
        tags += [{"system": RECORD_TAG_SYSTEM, "code": tag} for tag in getattr(record, "tags", ())]
        extensions = [*(elements.pop("extension", None) or []), *self.extras_out(record)]
        elements["extension"] = [item for item in extensions if item]
        return {
            "resourceType": self.resource_type,
            "id": ctx.resource_id(self.kind, record.pk),
            "meta": {"tag": tags},
            "identifier": identifiers,
            **{key: value for key, value in elements.items() if value not in (None, [], {}, "")},
        }

    def ext(self, name: str, value, value_type: str = "valueString") -> dict | None:
        """One extension of ours, or None for an empty value."""
        if value in (None, "", [], {}):
            return None
        return {"url": extension_url(self.kind, name), value_type: value}

    def ext_value(self, resource: dict, name: str):
        """The value of our extension `name` in `resource` (whatever its value[x]), or None."""
        url = extension_url(self.kind, name)
        for item in resource.get("extension") or ():
            if isinstance(item, dict) and item.get("url") == url:
                for key, value in item.items():
                    if key.startswith("value"):
                        return value
        return None

    def coded_out(self, name: str, value: str, table: dict[str, str]) -> tuple[str, dict | None]:
        """Our `value` as the FHIR code `table` gives it, plus an extension keeping ours when
        the code does not lead back to it (several of ours share one FHIR code)."""
        code = table.get(value, "")
        back = next((ours for ours, theirs in table.items() if theirs == code), None)
        return code, (None if back == value else self.ext(name, value))

    def coded_in(self, resource: dict, name: str, code, table: dict[str, str], choices, default):
        """The inverse of coded_out: our extension when valid, else the first of ours that
        maps to `code`, else `default`."""
        kept = choice(self.ext_value(resource, name), choices)
        if kept:
            return kept
        for ours, theirs in table.items():
            if theirs == code:
                return ours
        return choice(code, choices, default)

    def extras_out(self, record) -> list[dict]:
        out = []
        for name in self.extras:
            model_field = self.model._meta.get_field(name)
            element = value_element(model_field, getattr(record, model_field.attname))
            if element:
                out.append({"url": extension_url(self.kind, name), **element})
        return out

    def read_extras(self, resource: dict) -> dict[str, Any]:
        """Every field of `extras` from its extension; an absent one gets the field's empty
        value, so an update clears what the resource no longer carries."""
        return {
            name: read_value(self.model._meta.get_field(name), self.ext_value(resource, name))
            for name in self.extras
        }


def value_element(model_field: models.Field, value) -> dict | None:
    """{"value<type>": …} for a model field's value (None for an empty one; booleans are
    always written, so that false survives an update)."""
    if isinstance(model_field, models.BooleanField):
        return {"valueBoolean": bool(value)}
    if value in (None, "", [], {}):
        return None
    if isinstance(model_field, models.JSONField):
        return {"valueString": json.dumps(value, sort_keys=True, ensure_ascii=False)}
    if isinstance(model_field, models.DateTimeField):
        return {"valueDateTime": value.isoformat()}
    if isinstance(model_field, models.DateField):
        return {"valueDate": value.isoformat()}
    if isinstance(model_field, models.IntegerField):
        return {"valueInteger": value}
    if isinstance(model_field, models.FloatField | models.DecimalField):
        return {"valueDecimal": value}
    return {"valueString": str(value)}


def read_value(model_field: models.Field, raw) -> Any:
    """The inverse of value_element; an absent value (None) gives the field's empty value."""
    if raw is None:
        if isinstance(model_field, models.BooleanField):
            return model_field.default if model_field.has_default() else False
        if model_field.null:
            return None
        if model_field.has_default():
            return model_field.get_default()
        return ""
    if isinstance(model_field, models.JSONField):
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return raw
    if isinstance(model_field, models.DateTimeField):
        return parse_datetime(raw) if isinstance(raw, str) else None
    if isinstance(model_field, models.DateField):
        return to_date(raw)
    return raw


# --- small helpers shared by the maps ---------------------------------------------------------


def iso(value) -> str | None:
    return value.isoformat() if isinstance(value, date | datetime) else None


def to_date(value) -> date | None:
    """A FHIR date or dateTime ("2024", "2024-05", "2024-05-01", "2024-05-01T10:00:00Z") as a
    date (partial dates become the first day); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if len(text) == 4 and text.isdigit():
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        parsed = parse_date(text[:10])
    except ValueError:
        return None
    return parsed


def concept(text: str = "", *codings: dict | None) -> dict | None:
    """A CodeableConcept with our text and the codings that are given."""
    codings = [c for c in codings if c and c.get("code")]
    if not text and not codings:
        return None
    out: dict[str, Any] = {}
    if codings:
        out["coding"] = codings
    if text:
        out["text"] = text
    return out


def concept_text(value) -> str:
    """What a CodeableConcept says in words: its text, else a coding's display, else a code."""
    if not isinstance(value, dict):
        return ""
    if isinstance(value.get("text"), str) and value["text"].strip():
        return value["text"].strip()
    for coding in value.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            return coding["display"].strip()
    for coding in value.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return coding["code"].strip()
    return ""


def concept_code(value, system: str) -> str:
    """The code of `value`'s coding in `system` ("" when none)."""
    if not isinstance(value, dict):
        return ""
    for coding in value.get("coding") or ():
        if isinstance(coding, dict) and coding.get("system") == system:
            return str(coding.get("code") or "")
    return ""


def first(value) -> Any:
    """The first item of a FHIR list element (or {} when empty/absent)."""
    if isinstance(value, list) and value:
        return value[0] if value[0] is not None else {}
    return {}


def notes_out(text: str) -> list[dict]:
    return [{"text": text}] if text else []


def notes_in(resource: dict) -> str:
    return "\n\n".join(
        n["text"] for n in resource.get("note") or () if isinstance(n, dict) and n.get("text")
    )


def reference_of(value) -> str | dict | None:
    """What the importer resolves from a Reference element: its reference string, else the
    Reference itself when it names its target by identifier only (None when neither)."""
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return value["reference"]
    if isinstance(value, dict) and isinstance(value.get("identifier"), dict):
        return value
    return None


def choice(value, choices, default=""):
    """`value` when it is one of `choices` (a TextChoices class), compared without case."""
    if isinstance(value, str):
        wanted = value.strip().lower()
        for option in choices.values:
            if option.lower() == wanted:
                return option
        for option, label in choices.choices:
            if str(label).lower() == wanted:
                return option
    return default
