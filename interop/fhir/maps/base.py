"""The shape every FHIR mapping has: one ResourceMap per record kind, both directions.

A map turns one of our rows into one FHIR R4 resource (a dict in FHIR JSON) and a FHIR resource
back into field values for our model. Export, import, the round trip and the emergency summary
only ever go through this interface, iterating the registry in interop/fhir/maps/__init__.py;
nothing outside the maps names a record type.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import models

# Marks what our exports are, so an import of our own bundle picks the right map at once
# (resource types such as Observation and Condition carry several of our kinds).
KIND_TAG_SYSTEM = "urn:medikeep:record-kind"


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
        example {"lab_result": "urn:uuid:…"} or {"practitioner": "urn:uuid:…"}); the importer
        resolves them to rows of the same import or already in the database.
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


class CannotImport(Exception):
    """This resource cannot become a record here; the message says why (a skip reason)."""


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

    def queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        """select_related / prefetch_related for what to_resource reads (no query per row)."""
        return queryset

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
        """The common frame: resourceType, id, meta tag, identifiers, then the elements."""
        identifiers = [
            ctx.identifier(self.kind, record.pk),
            *ctx.kept.get((self.kind, record.pk), []),
        ]
        return {
            "resourceType": self.resource_type,
            "id": ctx.resource_id(self.kind, record.pk),
            "meta": {"tag": [{"system": KIND_TAG_SYSTEM, "code": self.kind}]},
            "identifier": identifiers,
            **{key: value for key, value in elements.items() if value not in (None, [], {}, "")},
        }
