"""The registry of FHIR maps: one ResourceMap per kind, in the order an import applies them
(directory entries, then the patient, then records before the records that point at them)."""

from __future__ import annotations

from interop.fhir.maps import (
    care,
    clinical,
    documents,
    family,
    labs,
    observations,
    people,
    symptoms,
)
from interop.fhir.maps.base import KIND_TAG_SYSTEM, ResourceMap

# Each module lists its maps in MAPS. Files come last: they attach to records of any kind.
REGISTRY: list[ResourceMap] = [
    *people.MAPS,
    *clinical.MAPS,
    *care.MAPS,
    *observations.MAPS,
    *labs.MAPS,
    *symptoms.MAPS,
    *family.MAPS,
    *documents.MAPS,
]

_BY_KIND = {m.kind: m for m in REGISTRY}


def map_for_kind(kind: str) -> ResourceMap:
    """The map of `kind` (KeyError for an unknown kind)."""
    return _BY_KIND[kind]


def map_for_resource(resource: dict) -> ResourceMap | None:
    """The map that reads `resource`: the first of its resource type that claims it."""
    if not isinstance(resource, dict):
        return None
    resource_type = resource.get("resourceType")
    for candidate in REGISTRY:
        if candidate.resource_type == resource_type and candidate.claims(resource):
            return candidate
    return None


# The design calls it maps_for.
maps_for = map_for_resource


__all__ = ["KIND_TAG_SYSTEM", "REGISTRY", "map_for_kind", "map_for_resource", "maps_for"]


def resource_types() -> set[str]:
    return {m.resource_type for m in REGISTRY}
