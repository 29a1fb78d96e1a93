"""The registry of FHIR maps: one ResourceMap per kind, in the order an import applies them
(directory entries, then the patient, then records before the records that point at them)."""

from __future__ import annotations

import inspect
from types import ModuleType

from interop.fhir.maps import clinical, documents, family, observations, people
from interop.fhir.maps.base import KIND_TAG_SYSTEM, ResourceMap


def _maps_in(module: ModuleType) -> list[ResourceMap]:
    """A module's maps: its MAPS list, else an instance of every concrete ResourceMap class
    it defines (in the order they are written)."""
    if hasattr(module, "MAPS"):
        return list(module.MAPS)
    classes = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, ResourceMap)
        and value.__module__ == module.__name__
        and isinstance(getattr(value, "kind", None), str)
        and getattr(value, "model", None) is not None
    ]
    classes.sort(key=lambda cls: inspect.getsourcelines(cls)[1])
    return [cls() for cls in classes]


# Files last: they attach to records of any kind.
REGISTRY: list[ResourceMap] = [
    *_maps_in(people),
    *_maps_in(clinical),
    *_maps_in(observations),
    *_maps_in(family),
    *_maps_in(documents),
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
