"""Files attached to records as DocumentReferences.

Export: the attachment links to our access-checked download; with include_file_data the
bytes come inline too (base64, up to MAX_INLINE_BYTES per file, and only for files whose bytes
are on this server). `context.related` names the record the file belongs to, by reference and
by our identifier.

Import: only a DocumentReference with inline data can become a file. The bytes pass the
checks of an upload (files.uploads: size, extension, content sniffed against the extension),
in to_fields for the dry run and again before the row is written; the row gets the record the
file is attached to in before_save and its bytes are stored in save() (never in a dry run).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import uuid
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.exceptions import APIException

from files import storage
from files.entity_types import canonical_of, canonical_types, find_type
from files.models import EntityFile, StorageBackend, SyncStatus
from files.uploads import check_upload, clean_file_name, extension_of
from interop.fhir.codes import (
    fhir_datetime,
    parse_datetime,
    require_type,
    tolerant,
    typed_reference,
)
from interop.fhir.maps.base import (
    FULL_URL_SYSTEM,
    CannotImport,
    ExportContext,
    ImportContext,
    Parsed,
    ResourceMap,
    concept_text,
    reference_of,
)
from interop.models import ExternalIdentifier, ServerIdentity
from patients.access import Level, accessible_patient_ids
from patients.models import record_models

# Larger files are exported as a link only: a bundle is parsed whole on import.
MAX_INLINE_BYTES = 20 * 1024 * 1024
CONTENT = "_content"  # Parsed.fields key of the decoded bytes (not a model field)
RELATED = "_related"  # Parsed.fields key of the related record's (reference, identifier)


def _record_kinds() -> dict[str, type]:
    return {m.kind.name: m for m in record_models() if m.kind is not None}


def _refusal(exc: APIException) -> str:
    """The message of an upload check's refusal (a 413, or a 422 naming the file field)."""
    detail = exc.detail
    if isinstance(detail, dict):
        detail = next(iter(detail.values()), "")
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail)


class FileMap(ResourceMap):
    kind = "file"
    model = EntityFile
    resource_type = "DocumentReference"

    def records(self, patient, user):
        # Files are not PatientOwnedModel rows: scoped here the way the files API scopes them
        # (the patient's access decides), live files of record types that take files only.
        names = {et.name for et in canonical_types()}
        return EntityFile.objects.live().filter(
            patient=patient,
            patient_id__in=accessible_patient_ids(user, Level.VIEW),
            entity_type__in=names,
        )

    def to_resource(self, record: EntityFile, ctx: ExportContext) -> dict[str, Any]:
        attachment: dict[str, Any] = {
            "contentType": record.file_type,
            "url": f"{ctx.base_url}/api/v1/entity-files/files/{record.pk}/download",
            "size": record.file_size,
            "title": record.file_name,
            "creation": fhir_datetime(record.uploaded_at),
        }
        description = record.description
        if ctx.include_file_data:
            data, why_not = self._inline(record)
            if data is not None:
                attachment["data"] = data
            else:
                description = f"{description}\n\n[{why_not}]".strip()
        related = self._related(record, ctx)
        return self.base(
            record,
            ctx,
            extension=[self.ext("sha256", record.sha256)],
            status="current",
            category=[{"text": record.category}] if record.category else [],
            subject=ctx.ref("patient", record.patient_id),
            date=fhir_datetime(record.uploaded_at),
            description=description,
            content=[{"attachment": attachment}],
            context={"related": [related]} if related else None,
        )

    @staticmethod
    def _inline(record: EntityFile) -> tuple[str | None, str]:
        """(base64 bytes, "") or (None, why they are not included)."""
        if record.storage_backend != StorageBackend.LOCAL:
            backend = record.get_storage_backend_display()
            return None, f"File kept in {backend}: not included; download it from the url."
        if record.file_size > MAX_INLINE_BYTES:
            limit = MAX_INLINE_BYTES // (1024 * 1024)
            return None, f"File larger than {limit} MB: not included; download it from the url."
        try:
            content = b"".join(storage.stream(record.stored_name))
        except FileNotFoundError:
            return None, "The stored file is missing: not included."
        return base64.b64encode(content).decode("ascii"), ""

    @staticmethod
    def _related(record: EntityFile, ctx: ExportContext) -> dict[str, Any] | None:
        entity = find_type(record.entity_type)
        if entity is None or entity.model.kind is None:
            return None
        kind = entity.model.kind.name
        from interop.fhir.maps import map_for_kind  # the registry imports this module

        try:
            resource_type = map_for_kind(kind).resource_type
        except KeyError:
            resource_type = None
        reference = ctx.ref(kind, record.entity_id)
        if resource_type:
            reference = typed_reference(reference, resource_type)
        return {**reference, "identifier": ctx.identifier(kind, record.entity_id)}

    # --- import -------------------------------------------------------------------------------

    @tolerant
    def to_fields(self, resource: dict[str, Any]) -> Parsed:
        require_type(resource, "DocumentReference")
        if resource.get("status") == "entered-in-error":
            raise CannotImport("the document was entered in error")
        content = resource.get("content") or [{}]
        attachment = content[0].get("attachment") or {}
        data = attachment.get("data")
        if not data:
            raise CannotImport(
                "no inline data (attachment.data): only files exported with their content "
                "(include_file_data=true) can be imported"
            )
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CannotImport("attachment.data is not base64") from exc
        checksum = self.ext_value(resource, "sha256")
        if checksum and hashlib.sha256(raw).hexdigest() != checksum:
            raise CannotImport("the file's content does not match its sha256 checksum")
        file_name = self._file_name(attachment)
        self._checked(file_name, raw, attachment.get("contentType"))
        related = (resource.get("context") or {}).get("related") or []
        related = related[0] if related and isinstance(related[0], dict) else {}
        identifier = related.get("identifier") or {}
        if not reference_of(related) and not identifier.get("value"):
            raise CannotImport(
                "the document names no record it belongs to (context.related): a file here "
                "is always attached to a record"
            )
        categories = resource.get("category") or []
        description = str(resource.get("description") or "")
        uploaded = parse_datetime(attachment.get("creation") or resource.get("date"), "creation")
        return Parsed(
            fields={
                **({"uploaded_at": uploaded} if uploaded else {}),
                "file_name": file_name,
                "description": description[:1000],
                "category": concept_text(categories[0])[:100] if categories else "",
                CONTENT: raw,
                RELATED: (reference_of(related), identifier.get("system"), identifier.get("value")),
            },
            references={"record": reference_of(related)} if reference_of(related) else {},
        )

    @staticmethod
    def _file_name(attachment: dict[str, Any]) -> str:
        """The attachment's title as a file name, with an extension from its content type
        when it has none we know."""
        name = clean_file_name(attachment.get("title") or "document")
        if not extension_of(name) and attachment.get("contentType"):
            guessed = mimetypes.guess_extension(str(attachment["contentType"]).split(";")[0])
            if guessed:
                name = clean_file_name(name + guessed)
        return name

    @staticmethod
    def _checked(file_name: str, raw: bytes, content_type) -> tuple[SimpleUploadedFile, str, str]:
        """The bytes as an upload, after the checks an upload passes: (upload, ext, mime)."""
        upload = SimpleUploadedFile(file_name, raw, str(content_type or ""))
        try:
            extension, mime = check_upload(upload, file_name)
        except APIException as exc:
            raise CannotImport(f"{file_name}: {_refusal(exc)}") from exc
        upload.sha256 = hashlib.sha256(raw).hexdigest()
        return upload, extension, mime

    def before_save(self, instance: EntityFile, parsed: Parsed, ictx: ImportContext) -> None:
        if instance.pk is not None:
            return  # a file already here: only its description, category and name change
        record = self._record_of(parsed, ictx)
        entity_name = canonical_of(type(record))
        if entity_name is None:
            raise CannotImport(f"files cannot be attached to a {record.kind.name}")
        upload, extension, mime = self._checked(
            parsed.fields["file_name"], parsed.fields[CONTENT], ""
        )
        instance.patient = ictx.patient
        instance.entity_type = entity_name
        instance.entity_id = record.pk
        instance.stored_name = f"{entity_name}/{uuid.uuid4().hex}.{extension}"
        instance.file_size = upload.size
        instance.file_type = mime
        instance.sha256 = upload.sha256
        instance.storage_backend = StorageBackend.LOCAL
        instance.sync_status = SyncStatus.SYNCED
        instance.uploaded_by = ictx.user if getattr(ictx.user, "is_authenticated", False) else None
        instance._upload = upload

    def save(self, instance: EntityFile, parsed: Parsed, ictx: ImportContext) -> None:
        upload = getattr(instance, "_upload", None)
        if upload is None:
            instance.save()
            return
        if ictx.dry_run:
            return  # the dry run writes no bytes (and so no row that would name them)
        # As files.services.upload: bytes first, then the row; no row, no bytes. The importer
        # deletes what is listed in ictx.stored if the import rolls back later.
        instance.stored_name = storage.save(instance.stored_name, upload)
        ictx.stored.append(instance.stored_name)
        try:
            instance.save()
        except BaseException:
            storage.delete(instance.stored_name)
            raise
        uploaded = parsed.fields.get("uploaded_at")
        if uploaded:
            # Kept from where the file came from (uploaded_at is set on insert otherwise).
            EntityFile.objects.filter(pk=instance.pk).update(uploaded_at=uploaded)
            instance.uploaded_at = uploaded

    def _record_of(self, parsed: Parsed, ictx: ImportContext):
        """The record the file is attached to: a row of this import or already here."""
        reference, system, value = parsed.fields.get(RELATED) or (None, None, None)
        resolve = getattr(ictx, "resolve", None)
        if resolve is not None and reference:
            row = resolve(reference)
            if row is not None and getattr(row, "patient_id", None) == ictx.patient.pk:
                return row
        kinds = _record_kinds()
        kind, _, pk = str(value or "").partition("/")
        model = kinds.get(kind)
        if model is not None and system:
            row = None
            if system == ServerIdentity.system() and pk.isdigit():
                row = model.objects.filter(pk=int(pk), patient=ictx.patient).first()
            if row is None:
                row = self._kept(model, kind, system, str(value), ictx)
            if row is not None:
                return row
        if reference:
            kept = ExternalIdentifier.objects.filter(
                patient=ictx.patient, system=FULL_URL_SYSTEM, value=reference
            ).first()
            if kept is not None and kept.record_type in kinds:
                model = kinds[kept.record_type]
                row = model.objects.filter(pk=kept.record_id, patient=ictx.patient).first()
                if row is not None:
                    return row
        raise CannotImport(
            "the record the file is attached to (context.related) is neither in the bundle "
            "nor already here"
        )

    @staticmethod
    def _kept(model, kind: str, system: str, value: str, ictx: ImportContext):
        record_id = (
            ExternalIdentifier.objects.filter(
                patient=ictx.patient, record_type=kind, system=system, value=value
            )
            .values_list("record_id", flat=True)
            .first()
        )
        if record_id is None:
            return None
        return model.objects.filter(pk=record_id, patient=ictx.patient).first()


MAPS = [FileMap()]
