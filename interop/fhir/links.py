"""Links between two records of a patient (condition ⇄ medication, treatment ⇄ equipment …,
every PatientLinkModel) in FHIR.

No FHIR element says "this record is linked to that one, with these link fields", so each
link travels on the resource of its first side (link_sides[0]) as a complex extension:

    {"url": "urn:medikeep:link:<link model name>",
     "extension": [{"url": "target", "valueReference": <the other side>},
                   {"url": "<link field>", "value[x]": …}, …]}

Link fields that point into the directory (a plan's specific prescriber) are references too.
The export loads the links of the patient once per link model; the import applies them after
every resource is in, so either side may come first in the bundle.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models

from interop.fhir.maps import REGISTRY
from interop.fhir.maps.base import ExportContext, ResourceMap, read_value, value_element
from patients.core.links import PatientLinkModel

LINK_URL_PREFIX = "urn:medikeep:link:"
TARGET = "target"


def link_url(link_model) -> str:
    return f"{LINK_URL_PREFIX}{link_model._meta.model_name}"


def _map_of(model) -> ResourceMap | None:
    return next((m for m in REGISTRY if m.model is model and not m.nested_in), None)


def link_models() -> list[type[PatientLinkModel]]:
    """Link models whose two sides both have a map (the others cannot travel)."""
    out = []
    for model in apps.get_models():
        if not issubclass(model, PatientLinkModel):
            continue
        first, second = (model._meta.get_field(side).related_model for side in model.link_sides)
        if _map_of(first) and _map_of(second):
            out.append(model)
    return out


def own_fields(link_model) -> list[models.Field]:
    """The link's own fields: not its sides, its id or its timestamps."""
    skipped = {*link_model.link_sides, "id", "created_at", "updated_at"}
    return [f for f in link_model._meta.concrete_fields if f.name not in skipped]


class LinkExport:
    """The links of one patient, loaded once per link model, handed out per record."""

    def __init__(self, patient):
        # Directory entries named by the links handed out so far: {model: {pk, …}}.
        self.referenced: dict[type, set[int]] = {}
        self.rows: dict[tuple[type, int], list] = {}
        self.carried: dict[type, list[type]] = {}
        for link_model in link_models():
            first_side, _ = link_model.link_sides
            carrier = link_model._meta.get_field(first_side).related_model
            self.carried.setdefault(carrier, []).append(link_model)
            queryset = link_model._default_manager.filter(
                **{f"{first_side}__patient": patient}
            ).order_by("pk")
            for row in queryset:
                key = (link_model, getattr(row, f"{first_side}_id"))
                self.rows.setdefault(key, []).append(row)

    def extensions(self, record, ctx: ExportContext) -> list[dict]:
        out = []
        for link_model in self.carried.get(type(record), ()):
            second_side = link_model.link_sides[1]
            target_model = link_model._meta.get_field(second_side).related_model
            target_kind = _map_of(target_model).kind
            for row in self.rows.get((link_model, record.pk), ()):
                parts = [
                    {
                        "url": TARGET,
                        "valueReference": ctx.ref(target_kind, getattr(row, f"{second_side}_id")),
                    }
                ]
                for f in own_fields(link_model):
                    value = getattr(row, f.attname)
                    if f.is_relation:
                        if value:
                            kind = _map_of(f.related_model).kind
                            parts.append({"url": f.name, "valueReference": ctx.ref(kind, value)})
                            self.referenced.setdefault(f.related_model, set()).add(value)
                        continue
                    element = value_element(f, value)
                    if element:
                        parts.append({"url": f.name, **element})
                out.append({"url": link_url(link_model), "extension": parts})
        return out


def links_in(resource: dict, carrier_model) -> list[tuple[type, dict, dict]]:
    """(link model, {field: raw value or reference}, target Reference) of each link extension
    of `resource` whose first side is `carrier_model`."""
    by_url = {
        link_url(m): m
        for m in link_models()
        if m._meta.get_field(m.link_sides[0]).related_model is carrier_model
    }
    out = []
    for extension in resource.get("extension") or ():
        if not isinstance(extension, dict) or extension.get("url") not in by_url:
            continue
        link_model = by_url[extension["url"]]
        parts = {
            part.get("url"): next((v for k, v in part.items() if k.startswith("value")), None)
            for part in extension.get("extension") or ()
            if isinstance(part, dict)
        }
        target = parts.pop(TARGET, None)
        if not isinstance(target, dict):
            continue
        values = {}
        for f in own_fields(link_model):
            raw = parts.get(f.name)
            values[f.name] = raw if f.is_relation else read_value(f, raw)
        out.append((link_model, values, target))
    return out
