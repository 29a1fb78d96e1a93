"""The FHIR import: a Bundle (collection, transaction or batch) into one patient.

Steps: read every entry and pick its map (our kind tag, else the map that claims it); plan
(match each resource to a row: our own identifier naming a row of this patient, else an
ExternalIdentifier kept from an earlier import, else — for a resource without identifiers —
its fullUrl kept the same way); then apply, in the registry's order, inside one transaction:
resolve references (to rows of the same import, else to rows our identifiers name), set the
fields, full_clean(), save only what changed, keep the identifiers, announce the change like
the API does. A dry run does all of it and rolls back. A resource that cannot become a row is
skipped with the reason; nothing is half imported.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction

from interop.fhir.links import links_in
from interop.fhir.maps import REGISTRY, map_for_resource
from interop.fhir.maps.base import (
    FULL_URL_SYSTEM,
    RECORD_TAG_SYSTEM,
    CannotImport,
    ImportContext,
    Parsed,
    ResourceMap,
)
from interop.models import ExternalIdentifier, ServerIdentity
from patients.choices import RecordAction
from patients.core.serializers import model_snapshot
from patients.models import Patient
from patients.signals import record_changed

BUNDLE_TYPES = ("collection", "transaction", "batch")
ORDER = {m.kind: index for index, m in enumerate(REGISTRY)}


# What a map may raise on a resource of an unexpected shape (a string where an object was
# expected …): the resource is skipped with the message, never a 500.
READ_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError)


class BundleError(Exception):
    """The body is not a Bundle we can read (the message says why)."""


@dataclass
class Item:
    index: int
    resource: dict
    full_url: str
    map: ResourceMap | None = None
    parsed: Parsed | None = None
    row: models.Model | None = None  # the row it became (or matched)
    outcome: str = ""  # created | updated | skipped
    reason: str = ""
    owner: tuple[str, Item] | None = None  # (fk field, parent item) of an owned child
    warnings: list[str] = field(default_factory=list)
    nested: bool = False  # a record read from inside its parent's resource

    def report(self, dry_run: bool) -> dict[str, Any]:
        return {
            "resourceType": self.resource.get("resourceType")
            if isinstance(self.resource, dict)
            else None,
            "fullUrl": self.full_url or None,
            "kind": self.map.kind if self.map else None,
            # A row made by a dry run is rolled back: it has no id to give.
            "record_id": (
                self.row.pk
                if self.row is not None
                and self.row.pk
                and not (dry_run and self.outcome == "created")
                else None
            ),
            "reason": self.reason or None,
            "warnings": [*(self.parsed.warnings if self.parsed else []), *self.warnings],
        }


def _is_directory(item: ResourceMap) -> bool:
    return getattr(item, "directory", False)


def _record_tags(resource: dict) -> list[str] | None:
    meta = resource.get("meta")
    tags = meta.get("tag") if isinstance(meta, dict) else []
    if not isinstance(tags, list):
        return None
    return [
        str(t.get("code"))
        for t in tags
        if isinstance(t, dict) and t.get("system") == RECORD_TAG_SYSTEM and t.get("code")
    ]


def _identifiers(resource: dict) -> list[tuple[str, str]]:
    out = []
    identifiers = resource.get("identifier")
    for identifier in identifiers if isinstance(identifiers, list) else ():
        if isinstance(identifier, dict):
            system, value = identifier.get("system"), identifier.get("value")
            if isinstance(system, str) and isinstance(value, str) and system and value:
                out.append((system[:255], value[:255]))
    return out


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
            for k, v in exc.message_dict.items()
        )
    return " ".join(exc.messages)


class Importer:
    def __init__(self, *, user, patient: Patient, dry_run: bool = False, ip_address=None):
        self.user = user
        self.patient = patient
        self.dry_run = dry_run
        self.ip_address = ip_address
        self.system = ServerIdentity.system()
        self.ictx = ImportContext(
            patient=patient, user=user, dry_run=dry_run, resolve=self.resolve_any
        )
        self.items: list[Item] = []
        self.by_reference: dict[str, Item] = {}
        self.announcements: list[tuple] = []

    # --- reading ------------------------------------------------------------------------------

    def read(self, bundle) -> None:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise BundleError("The body is not a FHIR Bundle (resourceType must be Bundle).")
        if bundle.get("type") not in BUNDLE_TYPES:
            raise BundleError(f"Bundle type must be one of {', '.join(BUNDLE_TYPES)}.")
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            raise BundleError("Bundle.entry must be a list.")
        for index, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
            item = Item(
                index,
                resource if isinstance(resource, dict) else {},
                full_url if isinstance(full_url, str) else "",
            )
            self.items.append(item)
            request = entry.get("request") if isinstance(entry, dict) else None
            method = request.get("method") if isinstance(request, dict) else None
            if method == "DELETE":
                self.skip(item, "DELETE entries are not applied by an import.")
                continue
            if not isinstance(resource, dict) or not resource.get("resourceType"):
                self.skip(item, "The entry has no resource.")
                continue
            for key in self._keys(item):
                self.by_reference.setdefault(key, item)
            try:
                chosen = map_for_resource(resource)
            except READ_ERRORS:
                chosen = None
            if chosen is None:
                self.skip(item, f"No record type here takes a {resource.get('resourceType')}.")
                continue
            if chosen.nested_in:
                self.skip(item, f"A {chosen.kind} is imported inside its {chosen.nested_in}.")
                continue
            item.map = chosen
            try:
                item.parsed = chosen.to_fields(resource)
            except CannotImport as exc:
                self.skip(item, str(exc))
            except READ_ERRORS as exc:
                self.skip(item, f"The resource could not be read ({type(exc).__name__}: {exc}).")
        for item in self.items:
            if item.parsed is not None:
                for reference, fk in item.parsed.owns:
                    child = self.by_reference.get(reference)
                    if child is not None:
                        child.owner = (fk, item)

    def _keys(self, item: Item) -> list[str]:
        keys = []
        if item.full_url:
            keys.append(item.full_url)
        resource_id = item.resource.get("id")
        if isinstance(resource_id, str) and resource_id:
            keys.append(f"{item.resource['resourceType']}/{resource_id}")
            keys.append(f"urn:uuid:{resource_id}")
        if item.full_url and "/" in item.full_url and not item.full_url.startswith("urn:"):
            # An absolute URL "https://host/fhir/Condition/12" is also "Condition/12".
            keys.append("/".join(item.full_url.rstrip("/").split("/")[-2:]))
        return keys

    @staticmethod
    def skip(item: Item, reason: str) -> None:
        item.outcome = "skipped"
        item.reason = reason

    # --- matching -----------------------------------------------------------------------------

    def _ours(self, item_map: ResourceMap, identifiers) -> models.Model | None:
        """A row named by our own identifier ("<kind>/<pk>") that belongs to this patient (or,
        for directory entries, exists)."""
        for system, value in identifiers:
            kind, _, pk = value.partition("/")
            if system != self.system or kind != item_map.kind or not pk.isdigit():
                continue
            if item_map.kind == "patient":
                continue
            queryset = item_map.model._default_manager.filter(pk=int(pk))
            if not _is_directory(item_map):
                queryset = queryset.filter(patient=self.patient)
            row = queryset.first()
            if row is not None:
                return row
        return None

    def _kept(self, item_map: ResourceMap, identifiers) -> models.Model | None:
        if not identifiers:
            return None
        for system, value in identifiers:
            record_id = (
                ExternalIdentifier.objects.filter(
                    patient=self.patient, record_type=item_map.kind, system=system, value=value
                )
                .values_list("record_id", flat=True)
                .first()
            )
            if record_id is not None:
                row = item_map.model._default_manager.filter(pk=record_id).first()
                if row is not None:
                    return row
        return None

    def identifiers_of(self, item: Item) -> list[tuple[str, str]]:
        if item.nested:
            # The resource and its fullUrl are the parent's: only the child's own count.
            return list(item.parsed.identifiers)
        identifiers = list(item.parsed.identifiers) or _identifiers(item.resource)
        if not identifiers and item.full_url:
            identifiers = [(FULL_URL_SYSTEM, item.full_url[:255])]
        return identifiers

    def match(self, item: Item) -> models.Model | None:
        item_map = item.map
        if item_map.kind == "patient":
            return self.patient
        identifiers = self.identifiers_of(item)
        row = self._ours(item_map, identifiers)
        if row is None and not _is_directory(item_map):
            row = self._kept(item_map, identifiers)
        if row is None and _is_directory(item_map):
            name = item.parsed.fields.get("name")
            if name:
                row = item_map.model._default_manager.filter(name__iexact=name.strip()).first()
        return row

    # --- references ---------------------------------------------------------------------------

    def resolve(self, item_map: ResourceMap, fk_name: str, reference) -> models.Model | None:
        target_model = item_map.model._meta.get_field(fk_name).related_model
        return self.resolve_to(target_model, reference)

    def resolve_any(self, reference) -> models.Model | None:
        """The row a reference of the bundle became, whatever its kind (for map hooks)."""
        return self.resolve_to(models.Model, reference)

    def resolve_to(self, target_model, reference) -> models.Model | None:
        """The row a Reference (or reference string) names: a resource of this import, or
        one of ours named by its identifier."""
        if isinstance(reference, dict):
            if reference.get("reference"):
                reference = reference["reference"]
            else:
                identifier = reference.get("identifier")
                if not isinstance(identifier, dict):
                    return None
                return self._by_identifier(
                    target_model, identifier.get("system"), identifier.get("value")
                )
        if not isinstance(reference, str):
            return None
        target = self.by_reference.get(reference)
        if target is None and "/" in reference and not reference.startswith("urn:"):
            target = self.by_reference.get("/".join(reference.rstrip("/").split("/")[-2:]))
        if target is not None:
            row = target.row
            if row is not None and row.pk and isinstance(row, target_model):
                return row
        return None

    def _by_identifier(self, model, system, value) -> models.Model | None:
        if system != self.system or not isinstance(value, str):
            return None
        kind, _, pk = value.partition("/")
        if not pk.isdigit():
            return None
        queryset = model._default_manager.filter(pk=int(pk))
        if any(f.name == "patient" for f in model._meta.concrete_fields) and model is not Patient:
            queryset = queryset.filter(patient=self.patient)
        return queryset.first()

    # --- applying -----------------------------------------------------------------------------

    def run(self) -> dict:
        try:
            return self._run()
        except BaseException:
            self._drop_stored(0)  # the rows naming them are gone with the transaction
            raise

    def _drop_stored(self, since: int) -> None:
        """Delete bytes hooks wrote (ictx.stored[since:]) whose rows were rolled back."""
        from files import storage

        for name in self.ictx.stored[since:]:
            storage.delete(name)
        del self.ictx.stored[since:]

    @contextmanager
    def _savepoint(self):
        """One item's writes: rolled back together, with any bytes its hooks stored."""
        mark = len(self.ictx.stored)
        try:
            with transaction.atomic():
                yield
        except BaseException:
            self._drop_stored(mark)
            raise

    def _run(self) -> dict:
        with transaction.atomic():
            ordered = sorted(
                (i for i in self.items if i.map is not None and i.outcome != "skipped"),
                key=lambda i: (ORDER.get(i.map.kind, len(ORDER)), i.index),
            )
            seen_patient = False
            for item in ordered:
                if item.map.kind == "patient":
                    if seen_patient:
                        self.skip(item, "Only the first Patient of a bundle is imported.")
                        continue
                    seen_patient = True
                self.apply(item)
            for item in ordered:
                written = item.outcome in ("created", "updated") or item.reason == "unchanged"
                if written and item.row is not None and item.row.pk is not None:
                    self.apply_links(item)
            if self.dry_run:
                transaction.set_rollback(True)
            else:
                for args in self.announcements:
                    self._announce(*args)
        return self.answer()

    def apply(self, item: Item) -> None:
        item_map, parsed = item.map, item.parsed
        try:
            existing = self.match(item)
        except READ_ERRORS as exc:
            self.skip(item, f"The resource could not be read ({type(exc).__name__}: {exc}).")
            return
        if existing is not None and _is_directory(item_map):
            item.row = existing
            self.skip(item, "Directory entry already here (matched by name; not changed).")
            return
        try:
            with self._savepoint():
                self._write(item, existing)
        except CannotImport as exc:
            item.row = None if existing is None else existing
            self.skip(item, str(exc))
        except ValidationError as exc:
            item.row = existing
            self.skip(item, f"Invalid: {_messages(exc)}")
        except (IntegrityError, DatabaseError) as exc:
            item.row = existing
            self.skip(item, f"Refused by the database: {exc}")
        except READ_ERRORS as exc:
            item.row = existing
            self.skip(item, f"The resource could not be read ({type(exc).__name__}: {exc}).")
        if item.outcome != "skipped":
            for child_map, child in parsed.children:
                self.apply_child(item, child_map, child)

    def _fields_of(self, model) -> dict[str, models.Field]:
        out = {}
        for f in model._meta.concrete_fields:
            out[f.name] = f
            out[f.attname] = f
        return out

    def _set_values(self, item_map, row, parsed: Parsed, extra: dict[str, Any]) -> list[str]:
        """Sets the parsed fields and resolved references; returns the names that changed."""
        fields = self._fields_of(item_map.model)
        changed = []
        values = dict(parsed.fields)
        if "tags" in fields and "tags" not in values and item_map.kind != "patient":
            tags = _record_tags(extra.pop("_resource", {}) or {})
            if tags is not None:
                values["tags"] = tags
        extra.pop("_resource", None)
        for name, ref in parsed.references.items():
            if name not in fields:
                continue
            target = self.resolve(item_map, name, ref)
            if target is None:
                parsed.warnings.append(f"{name}: {ref} was not found; left empty.")
            values[name] = target
        values.update(extra)
        for name, value in values.items():
            model_field = fields.get(name)
            if (
                model_field is None
                or model_field.primary_key
                or name in ("patient", "created_at", "updated_at")
            ):
                continue
            if model_field.is_relation:
                new = value.pk if isinstance(value, models.Model) else value
                if getattr(row, model_field.attname) != new or (
                    value is not None and getattr(row, model_field.attname) is None
                ):
                    changed.append(model_field.name)
                setattr(row, model_field.name, value)
            else:
                if getattr(row, model_field.attname) != value:
                    changed.append(model_field.name)
                setattr(row, model_field.attname, value)
        return changed

    def _write(self, item: Item, existing) -> None:
        item_map, parsed = item.map, item.parsed
        if item_map.kind == "patient":
            return self._write_patient(item)
        row = existing if existing is not None else item_map.model()
        before = model_snapshot(row) if existing is not None else None
        # Tags come from the resource's meta; a nested record has none of its own.
        extra: dict[str, Any] = {} if item.nested else {"_resource": item.resource}
        if item.owner is not None:
            fk, owner_item = item.owner
            if (
                owner_item.row is None
                or owner_item.outcome == "skipped"
                and owner_item.row.pk is None
            ):
                raise CannotImport(f"Its parent ({owner_item.map.kind}) was not imported.")
            extra[fk] = owner_item.row
        changed = self._set_values(item_map, row, parsed, extra)
        has_patient = any(f.name == "patient" for f in item_map.model._meta.concrete_fields)
        if has_patient and existing is None:
            row.patient = self.patient
        if _is_directory(item_map) and existing is None and hasattr(row, "created_by_id"):
            row.created_by = self.user
        item.row = row
        if existing is not None and not changed:
            item.outcome = "skipped"
            item.reason = "unchanged"
            self._keep_identifiers(item)
            return
        item_map.before_save(row, parsed, self.ictx)
        row.full_clean()
        item_map.save(row, parsed, self.ictx)
        item.outcome = "updated" if existing is not None else "created"
        self._keep_identifiers(item)
        if has_patient and not _is_directory(item_map):
            action = RecordAction.UPDATED if existing is not None else RecordAction.CREATED
            self.announcements.append((row, action, before, model_snapshot(row)))
        return None

    def _write_patient(self, item: Item) -> None:
        row = self.patient
        before = model_snapshot(row)
        changed = self._set_values(item.map, row, item.parsed, {})
        item.row = row
        if not changed:
            item.outcome, item.reason = "skipped", "unchanged"
            self._keep_identifiers(item)
            return
        row.full_clean(exclude=["owner"], validate_constraints=False)
        row.save()
        item.outcome = "updated"
        self._keep_identifiers(item)
        self.announcements.append((row, RecordAction.UPDATED, before, model_snapshot(row)))

    def apply_child(self, parent: Item, child_map: ResourceMap, child: Parsed) -> None:
        """A record that lives inside its parent's resource (a family member's conditions)."""
        sub = Item(
            parent.index, parent.resource, parent.full_url, map=child_map, parsed=child, nested=True
        )
        fk = child.parent_field
        existing = self._ours(child_map, child.identifiers) or self._kept(
            child_map, child.identifiers
        )
        if existing is None and fk:
            # Without identifiers a child is the same as an existing one of this parent with
            # the same values (so importing twice adds nothing).
            model_fields = self._fields_of(child_map.model)
            fields = {
                k: v
                for k, v in child.fields.items()
                if k in model_fields
                and not model_fields[k].is_relation
                and not isinstance(model_fields[k], models.JSONField)
            }
            try:
                with transaction.atomic():
                    existing = child_map.model._default_manager.filter(
                        **{fk: parent.row}, **fields
                    ).first()
            except (*READ_ERRORS, ValidationError, DatabaseError):
                existing = None
        try:
            with self._savepoint():
                if fk:
                    sub.owner = (fk, parent)
                self._write(sub, existing)
        except CannotImport as exc:
            self.skip(sub, str(exc))
        except ValidationError as exc:
            self.skip(sub, f"Invalid: {_messages(exc)}")
        except (IntegrityError, DatabaseError) as exc:
            self.skip(sub, f"Refused by the database: {exc}")
        except READ_ERRORS as exc:
            self.skip(sub, f"It could not be read ({type(exc).__name__}: {exc}).")
        self.items.append(sub)

    def apply_links(self, item: Item) -> None:
        """The links the resource carries (interop/fhir/links.py), made or updated once both
        sides are in; a link whose other side is missing is left out with a warning."""
        row = item.row
        try:
            found = links_in(item.resource, type(row))
        except READ_ERRORS:
            found = []
        for link_model, values, target_ref in found:
            first_side, second_side = link_model.link_sides
            target_model = link_model._meta.get_field(second_side).related_model
            target = self.resolve_to(target_model, target_ref)
            label = link_model._meta.verbose_name
            if target is None or getattr(target, "patient_id", None) != self.patient.pk:
                item.warnings.append(f"{label}: {target_ref.get('reference')} not found; left out.")
                continue
            link = link_model._default_manager.filter(
                **{first_side: row, second_side: target}
            ).first() or link_model(**{first_side: row, second_side: target})
            changed = link.pk is None
            before = None if link.pk is None else model_snapshot(link)
            for name, value in values.items():
                model_field = link_model._meta.get_field(name)
                if model_field.is_relation:
                    value = self.resolve_to(model_field.related_model, value) if value else None
                    if getattr(link, model_field.attname) != (value.pk if value else None):
                        changed = True
                    setattr(link, name, value)
                elif getattr(link, model_field.attname) != value:
                    changed = True
                    setattr(link, model_field.attname, value)
            if not changed:
                continue
            try:
                with transaction.atomic():
                    link.full_clean()
                    link.save()
                action = RecordAction.CREATED if before is None else RecordAction.UPDATED
                self.announcements.append((link, action, before, model_snapshot(link)))
            except ValidationError as exc:
                item.warnings.append(f"{label}: {_messages(exc)}; left out.")
            except (IntegrityError, DatabaseError) as exc:
                item.warnings.append(f"{label}: refused by the database ({exc}); left out.")

    def _keep_identifiers(self, item: Item) -> None:
        row = item.row
        if row is None or row.pk is None or _is_directory(item.map):
            return
        for system, value in self.identifiers_of(item) if item.parsed is not None else ():
            if system == self.system and value == f"{item.map.kind}/{row.pk}":
                continue  # it names itself
            ExternalIdentifier.objects.get_or_create(
                patient=self.patient,
                record_type=item.map.kind,
                system=system,
                value=value,
                defaults={"record_id": row.pk},
            )

    def _announce(self, instance, action, before, after) -> None:
        user, patient_id, ip_address = self.user, self.patient.pk, self.ip_address
        transaction.on_commit(
            lambda: record_changed.send(
                sender=type(instance),
                user=user,
                instance=instance,
                action=action,
                before=before,
                after=after,
                patient_id=patient_id,
                ip_address=ip_address,
            )
        )

    # --- answer -------------------------------------------------------------------------------

    def answer(self) -> dict:
        groups: dict[str, list] = {"created": [], "updated": [], "skipped": []}
        for item in sorted(self.items, key=lambda i: i.index):
            outcome = item.outcome or "skipped"
            groups[outcome].append(item.report(self.dry_run))
        return {
            "dry_run": self.dry_run,
            **groups,
            "counts": {key: len(value) for key, value in groups.items()},
        }


def import_bundle(
    bundle, *, user, patient: Patient, dry_run: bool = False, ip_address=None
) -> dict:
    """Imports `bundle` into `patient` (the caller checked EDIT access); BundleError when the
    body is not a Bundle we read."""
    importer = Importer(user=user, patient=patient, dry_run=dry_run, ip_address=ip_address)
    importer.read(bundle)
    return importer.run()
