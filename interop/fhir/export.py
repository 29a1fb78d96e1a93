"""The FHIR export: every resource of one patient that a user may see, as a streamed Bundle.

One query per kind (plus the map's prefetches), the kept identifiers loaded once and the
directory entries the records point at loaded once per directory kind: the number of
queries does not grow with the number of records.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from interop.fhir.links import LinkExport
from interop.fhir.maps import REGISTRY
from interop.fhir.maps.base import ExportContext, ResourceMap
from interop.models import ExternalIdentifier, ServerIdentity
from interop.public import public_base

# Rows fetched per query while streaming a kind (bounds memory on big records).
CHUNK = 500


def export_context(request, *, include_file_data: bool = False) -> ExportContext:
    identity, _ = ServerIdentity.objects.get_or_create(pk=1)
    return ExportContext(
        system=str(identity),
        base_url=public_base(request),
        namespace=identity.instance,
        include_file_data=include_file_data,
    )


def load_kept(ctx: ExportContext, patient) -> None:
    """The identifiers the patient's records came with (one query)."""
    rows = ExternalIdentifier.objects.filter(patient=patient).order_by("id")
    for kind, pk, system, value in rows.values_list("record_type", "record_id", "system", "value"):
        ctx.kept.setdefault((kind, pk), []).append({"system": system, "value": value})


def _is_directory(item: ResourceMap) -> bool:
    return getattr(item, "directory", False)


def _directory_links(model: type[models.Model]) -> list[tuple[str, type[models.Model]]]:
    """(attname, target model) of the foreign keys of `model` into the directory."""
    targets = {m.model for m in REGISTRY if _is_directory(m)}
    return [
        (f.attname, f.related_model)
        for f in model._meta.concrete_fields
        if f.is_relation and f.related_model in targets
    ]


def iter_resources(
    user,
    patient,
    *,
    ctx: ExportContext,
    since: datetime | None = None,
    types: Iterable[str] | None = None,
) -> Iterator[dict]:
    """The patient's resources `user` may see (the caller checked VIEW access), then the
    directory entries they refer to, once each. `since` keeps records changed at or after
    it (the patient and the directory entries they need always come); `types` keeps those
    FHIR resource types."""
    wanted = set(types) if types else None
    load_kept(ctx, patient)
    links = LinkExport(patient)
    referenced: dict[type[models.Model], set[int]] = links.referenced

    def note_links(model, rows_values):
        for attname, target in _directory_links(model):
            for row in rows_values:
                pk = getattr(row, attname)
                if pk:
                    referenced.setdefault(target, set()).add(pk)

    for item in REGISTRY:
        if _is_directory(item) or item.nested_in:
            continue
        queryset = item.queryset(item.records(patient, user))
        if since is not None and item.kind != "patient":
            queryset = queryset.filter(_changed_since(item.model, since))
        if wanted is not None and item.resource_type not in wanted:
            # Still follow the links, so the directory entries they name can be exported.
            if _directory_links(item.model):
                names = [attname for attname, _ in _directory_links(item.model)]
                for values in queryset.values(*names):
                    for attname, target in _directory_links(item.model):
                        if values[attname]:
                            referenced.setdefault(target, set()).add(values[attname])
            continue
        for record in queryset.order_by("pk").iterator(chunk_size=CHUNK):
            note_links(item.model, [record])
            resource = item.to_resource(record, ctx)
            linked = links.extensions(record, ctx)
            if linked:
                resource["extension"] = [*resource.get("extension", []), *linked]
            yield resource

    # Practitioners point at their practice: load practitioners before practices.
    directory = sorted(
        (m for m in REGISTRY if _is_directory(m)),
        key=lambda m: 0 if _directory_links(m.model) else 1,
    )
    for item in directory:
        ids = referenced.get(item.model)
        if not ids:
            continue
        queryset = item.queryset(item.model.objects.filter(pk__in=sorted(ids)))
        rows = list(queryset.order_by("pk"))
        note_links(item.model, rows)
        if wanted is not None and item.resource_type not in wanted:
            continue
        for record in rows:
            yield item.to_resource(record, ctx)


def _changed_since(model, since) -> Q:
    """Rows changed at or after `since`, or whose child rows were (a family member whose
    condition changed, a report with a new component): a parent's resource carries or lists
    its children, so it must come with them."""
    changed = Q(updated_at__gte=since)
    for child in REGISTRY:
        if _is_directory(child) or child.model is model:
            continue
        for field in child.model._meta.concrete_fields:
            if field.is_relation and field.related_model is model:
                changed |= Q(
                    pk__in=child.model._default_manager.filter(updated_at__gte=since).values(
                        field.attname
                    )
                )
    return changed


def bundle_chunks(resources: Iterable[dict], *, bundle_id: str | None = None) -> Iterator[bytes]:
    """A Bundle of type collection written as its entries come (never whole in memory)."""
    head = {
        "resourceType": "Bundle",
        "id": bundle_id or str(uuid.uuid4()),
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
    }
    opening = json.dumps(head, ensure_ascii=False)[:-1] + ', "entry": ['
    yield opening.encode()
    separator = ""
    for resource in resources:
        entry = {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
        yield (separator + json.dumps(entry, ensure_ascii=False)).encode()
        separator = ", "
    yield b"]}"


def export_bundle(user, patient, *, ctx, since=None, types=None) -> dict:
    """The whole Bundle as a dict (for tests and callers that want it in memory)."""
    body = b"".join(bundle_chunks(iter_resources(user, patient, ctx=ctx, since=since, types=types)))
    return json.loads(body)
