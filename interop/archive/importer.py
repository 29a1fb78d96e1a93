"""Reading a whole-account archive back: check everything, then write everything at once.

1. `open_archive` checks the zip before anything is written: a readable zip, a manifest of our
   format and version, every member listed with the right size and SHA-256, nothing extra,
   every table parseable. Any fault is an InvalidArchive (422) and nothing changes.
2. `import_archive` writes, in one transaction: the account (when asked to create it), the
   reference entries (matched by name, directory entries created when missing), then every
   table in the order its foreign keys require (computed from the models), with old ids
   mapped to new ones. File and photo bytes go to storage inside the same attempt; if anything
   fails the bytes written so far are deleted. Each patient, record and file keeps its old id
   as an ExternalIdentifier (system = the source server, value "<kind>/<old id>"), so a later
   FHIR import of the same data finds the rows instead of duplicating them.

Importing the same archive into the same account twice is refused (409): the kept
identifiers show the patients are there already.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
import zipfile
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from rest_framework import status
from rest_framework.exceptions import ValidationError as DRFValidationError

from files import storage
from files.entity_types import find_type
from files.models import StorageBackend, SyncStatus
from files.uploads import check_upload, clean_file_name
from interop.archive import tables as t
from interop.archive.export import FORMAT, MANIFEST, VERSION
from interop.models import ExternalIdentifier, ServerIdentity
from medikeep.api.exceptions import ApiError, ConflictError, PayloadTooLarge
from notifications.channels import store_config
from patients import photos
from patients.models import record_models
from records.reference import DirectoryModel

logger = logging.getLogger("interop")

# A table is parsed into memory to remap its ids; a member that claims more is refused.
MAX_TABLE_BYTES = 512 * 1024 * 1024
# Fields cleared on an imported file: its bytes now live in this server's own storage.
REMOTE_FILE_FIELDS = (
    "paperless_document_id",
    "paperless_task_uuid",
    "papra_document_id",
    "papra_organization_id",
    "last_sync_at",
)


class InvalidArchive(ApiError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This is not a valid account archive."
    error_code = "VAL-422"


class ArchiveAlreadyImported(ConflictError):
    default_detail = "This archive has already been imported into this account."


def _reason(exc) -> str:
    """The message of a refused upload, without the field structure around it."""
    detail = getattr(exc, "detail", None) or getattr(exc, "messages", None) or str(exc)
    while isinstance(detail, dict | list) and detail:
        detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
    return str(detail)


# --- checking ------------------------------------------------------------------------------


class Archive:
    """An opened, fully checked archive: the manifest and the parsed tables."""

    def __init__(self, zf: zipfile.ZipFile, manifest: dict, data: dict, reference: dict):
        self.zf = zf
        self.manifest = manifest
        self.data = data  # {label: [rows]}
        self.reference = reference  # {label: [rows]}

    @property
    def source_system(self) -> str:
        return self.manifest["source"]["system"]

    @property
    def source_user_id(self) -> int:
        return self.manifest["user"]["id"]

    def open_member(self, path: str):
        return self.zf.open(path)


def _sha256_of(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    digest = hashlib.sha256()
    with zf.open(info) as handle:
        for chunk in iter(lambda: handle.read(256 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def open_archive(fileobj, *, max_expanded: int | None = None) -> Archive:
    """Check the whole archive; InvalidArchive naming the first fault. `max_expanded`
    bounds the members' total unpacked size (PayloadTooLarge beyond it)."""
    try:
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidArchive("The file is not a readable zip archive.") from exc
    try:
        return _checked(zf, max_expanded)
    except (InvalidArchive, PayloadTooLarge):
        zf.close()
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        zf.close()
        raise InvalidArchive(f"The archive is damaged: {type(exc).__name__}.") from exc


def _checked(zf: zipfile.ZipFile, max_expanded: int | None) -> Archive:
    infos = {info.filename: info for info in zf.infolist() if not info.is_dir()}
    expanded = sum(info.file_size for info in infos.values())
    if max_expanded is not None and expanded > max_expanded:
        raise PayloadTooLarge(
            f"The archive unpacks to {expanded} bytes, more than the {max_expanded} accepted "
            "here: import it with `manage.py import_account` instead."
        )
    if MANIFEST not in infos:
        raise InvalidArchive("The archive has no manifest.json: it is not an account archive.")
    if infos[MANIFEST].file_size > 64 * 1024 * 1024:
        raise InvalidArchive("The manifest is implausibly large.")
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except ValueError as exc:
        raise InvalidArchive("The manifest is not valid JSON.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidArchive(f"The manifest does not describe a {FORMAT}.")
    if manifest.get("version") != VERSION:
        raise InvalidArchive(
            f"Archive version {manifest.get('version')!r} is not supported (this server reads "
            f"version {VERSION})."
        )
    members = manifest.get("members")
    source = manifest.get("source")
    user = manifest.get("user")
    if (
        not isinstance(members, dict)
        or not isinstance(source, dict)
        or not isinstance(source.get("system"), str)
        or not isinstance(user, dict)
        or not isinstance(user.get("id"), int)
    ):
        raise InvalidArchive("The manifest lacks its members, source or user.")
    extra = sorted(set(infos) - set(members) - {MANIFEST})
    if extra:
        raise InvalidArchive(f"The archive holds members its manifest does not list: {extra[0]}")
    for path, expected in members.items():
        info = infos.get(path)
        if info is None:
            raise InvalidArchive(f"The member {path} listed in the manifest is missing.")
        if not isinstance(expected, dict) or info.file_size != expected.get("size"):
            raise InvalidArchive(f"The member {path} does not have the size the manifest says.")
        if _sha256_of(zf, info) != expected.get("sha256"):
            raise InvalidArchive(
                f"The checksum of {path} does not match: the archive is damaged or was changed."
            )
    data, reference = {}, {}
    for path, info in infos.items():
        if path == MANIFEST or not path.endswith(".json"):
            continue
        folder, _, name = path.partition("/")
        if folder not in ("data", "reference"):
            continue
        if info.file_size > MAX_TABLE_BYTES:
            raise InvalidArchive(f"The table {path} is too large to import.")
        try:
            rows = json.loads(zf.read(info))
        except ValueError as exc:
            raise InvalidArchive(f"The table {path} is not valid JSON.") from exc
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("id"), int) for r in rows
        ):
            raise InvalidArchive(f"The table {path} is not a list of rows with ids.")
        (data if folder == "data" else reference)[name.removesuffix(".json")] = rows
    if len(data.get("accounts.user", [])) != 1:
        raise InvalidArchive("The archive does not describe one account.")
    for row in (r for rows in data.values() for r in rows):
        member = row.get("_member")
        if member is not None and member not in members:
            raise InvalidArchive(f"A row names the member {member!r}, which is not listed.")
    return Archive(zf, manifest, data, reference)


# --- writing -------------------------------------------------------------------------------


def _order(labels: list[str]) -> list[str]:
    """The tables in an order where every row's foreign keys point at rows already made."""
    depends: dict[str, set[str]] = {}
    for label in labels:
        table = t.table_for(label)
        needs = {
            t.label_of(f.related_model)
            for f in t.relation_fields(table.model)
            if t.label_of(f.related_model) in labels and t.label_of(f.related_model) != label
        }
        if table.role in ("file", "identifier"):  # they name records by (type, id)
            needs |= {x for x in labels if t.table_for(x).role in ("patient", "record")}
        depends[label] = needs
    ordered: list[str] = []
    while depends:
        ready = sorted(label for label, needs in depends.items() if not needs - set(ordered))
        if not ready:
            raise InvalidArchive("The tables' links form a cycle this server cannot import.")
        ordered += ready
        for label in ready:
            del depends[label]
    return ordered


class _Run:
    """One import: id maps, written bytes, the result."""

    def __init__(self, archive: Archive, user, *, created_account: bool):
        self.archive = archive
        self.user = user
        self.created_account = created_account
        self.ids: dict[str, dict[int, int]] = defaultdict(dict)
        self.written: list[tuple[object, str]] = []  # (storage, name) to delete on failure
        self.counts: dict[str, int] = {}
        self.notes: list[str] = []
        self.stamps: list[tuple] = []
        self.channels_needing_settings: list[str] = []
        self.kind_tables = {
            m.kind.name: t.label_of(m) for m in record_models() if m.kind is not None
        }
        self.kind_tables["patient"] = "patients.patient"

    # foreign keys ----------------------------------------------------------------------------

    def remap(self, model, row: dict) -> dict | None:
        """The row's field values for this server, or None to leave the row out."""
        values = {}
        fields = {f.attname: f for f in t.carried_fields(model)}
        for attname, raw in row.items():
            field = fields.get(attname)
            if field is None or attname == "id" or attname.startswith("_"):
                continue
            if t.is_fk(field):
                target = field.related_model
                if raw is None:
                    value = None
                elif t.is_user_model(target):
                    value = self.user.pk if raw == self.archive.source_user_id else None
                else:
                    value = self.ids[t.label_of(target)].get(raw)
                if value is None and raw is not None and not field.null:
                    return None  # its parent did not come along
                values[attname] = value
            else:
                try:
                    values[attname] = t.load_value(field, raw)
                except Exception as exc:  # any unreadable value
                    raise InvalidArchive(
                        f"{t.label_of(model)} row {row.get('id')}: bad {attname}."
                    ) from exc
        return values

    # reference entries -----------------------------------------------------------------------

    def references(self) -> None:
        labels = [label for label in self.archive.reference if _model_or_none(label)]
        for label in _order_reference(labels):
            model = _model_or_none(label)
            matched = created = 0
            for row in self.archive.reference[label]:
                values = self.remap(model, row)
                if values is None:  # what it needs (a specialty) did not come along
                    continue
                found = _match_reference(model, values)
                if found is None and issubclass(model, DirectoryModel):
                    values.pop("created_by_id", None)
                    found = model(**values, created_by=self.user)
                    try:
                        found.save()
                    except (DatabaseError, DjangoValidationError, ValueError, TypeError) as exc:
                        raise InvalidArchive(
                            f"{label} entry {row['id']} could not be imported: {_reason(exc)}"
                        ) from exc
                    created += 1
                elif found is not None:
                    matched += 1
                if found is not None:
                    self.ids[label][row["id"]] = found.pk
                else:
                    self.notes.append(
                        f"{model._meta.verbose_name} {values.get('name') or row['id']!r} is "
                        "not in this server's catalogue: records that named it keep no link."
                    )
            self.counts[f"reference:{label}"] = matched + created

    # tables ----------------------------------------------------------------------------------

    def tables(self) -> None:
        labels = [label for label in self.archive.data if t.table_for(label) is not None]
        unknown = sorted(set(self.archive.data) - set(labels) - {"accounts.user"})
        for label in unknown:
            self.notes.append(f"The table {label} is unknown here and was not imported.")
        for label in _order(labels):
            table = t.table_for(label)
            handler = getattr(self, f"_row_{table.label.replace('.', '_')}", None) or getattr(
                self, f"_role_{table.role}", self._role_generic
            )
            made = 0
            for row in self.archive.data[label]:
                values = self.remap(table.model, row)
                if values is None:
                    continue
                try:
                    obj = handler(table, row, values)
                except (DatabaseError, DjangoValidationError, ValueError, TypeError) as exc:
                    # Data this server's rules refuse: the whole import is undone.
                    raise InvalidArchive(
                        f"{label} row {row['id']} could not be imported: {_reason(exc)}"
                    ) from exc
                if obj is not None:
                    self.ids[label][row["id"]] = obj.pk
                    made += 1
            self.counts[label] = made

    def _save(self, model, values: dict, obj=None):
        obj = obj if obj is not None else model(**values)
        obj.save()
        stamps = {
            f.name: values[f.attname]
            for f in model._meta.concrete_fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            if values.get(f.attname) is not None
        }
        if stamps:
            self.stamps.append((model, obj.pk, stamps))
        return obj

    def restore_stamps(self) -> None:
        """created_at / updated_at as they were, set last: saving a row may touch its parent
        (an occurrence moves its symptom's updated_at)."""
        for model, pk, stamps in self.stamps:
            model._default_manager.filter(pk=pk).update(**stamps)

    def _role_generic(self, table, row, values):
        return self._save(table.model, values)

    def _keep_identifier(self, patient_id: int, kind: str, old_id: int, new_id: int) -> None:
        ExternalIdentifier.objects.get_or_create(
            patient_id=patient_id,
            record_type=kind,
            system=self.archive.source_system,
            value=f"{kind}/{old_id}",
            defaults={"record_id": new_id},
        )

    def _role_patient(self, table, row, values):
        values["owner_id"] = self.user.pk
        if (
            values.get("is_self_record")
            and table.model._default_manager.filter(owner=self.user, is_self_record=True).exists()
        ):
            values["is_self_record"] = False
            self.notes.append("The account has a self record already: the imported one is not.")
        obj = self._save(table.model, values)
        self._keep_identifier(obj.pk, "patient", row["id"], obj.pk)
        return obj

    def _role_record(self, table, row, values):
        obj = self._save(table.model, values)
        kind = table.model.kind
        if kind is not None:
            self._keep_identifier(obj.patient_id, kind.name, row["id"], obj.pk)
        return obj

    def _role_photo(self, table, row, values):
        model = table.model
        obj = model(**{k: v for k, v in values.items() if k != "file"})
        # Photos are stored as the JPEGs the server drew: the member must be one (Pillow
        # reads it through), within the photo size limit, or it is left out.
        member = self.archive.zf.getinfo(row["_member"])
        with self.archive.open_member(row["_member"]) as handle:
            content = handle.read(photos.MAX_PHOTO_BYTES + 1)
        upload = ContentFile(content, name="photo.jpg")
        try:
            photos.check_size(upload)
            if photos.check_image(upload) != "JPEG":
                raise DjangoValidationError("The photo is not a JPEG image.")
        except (ApiError, DjangoValidationError) as exc:
            self.notes.append(f"Photo {row['id']} was left out: {_reason(exc)}")
            return None
        obj.file.save("photo.jpg", upload, save=False)
        obj.file_size, obj.mime_type = member.file_size, "image/jpeg"
        self.written.append((obj.file.storage, obj.file.name))
        return self._save(model, values, obj)

    def _role_file(self, table, row, values):
        entity = find_type(values.get("entity_type") or "")
        kind = entity and entity.model.kind
        new_entity = entity and self.ids[t.label_of(entity.model)].get(values["entity_id"])
        if new_entity is None:
            self.notes.append(f"File {row['id']} names a record that did not come along.")
            return None
        # An archive is an upload: its files pass the checks every upload passes (size,
        # extension, content sniffed against it), and what the archive's row says about the
        # name, type and hash is replaced by what the bytes show.
        file_name = clean_file_name(values.get("file_name") or "")
        member = self.archive.zf.getinfo(row["_member"])
        with self.archive.open_member(row["_member"]) as handle:
            upload = File(handle, name=file_name)
            upload.size = member.file_size
            try:
                extension, mime = check_upload(upload, file_name)
            except (ApiError, DRFValidationError) as exc:
                self.notes.append(f"File {row['id']} ({file_name}) was left out: {_reason(exc)}")
                return None
            upload.seek(0)
            stored = storage.save(f"{entity.name}/{uuid.uuid4().hex}.{extension}", upload)
        self.written.append((storage.file_storage(), stored))
        values.update(
            file_name=file_name,
            file_type=mime,
            file_size=member.file_size,
            sha256=self.archive.manifest["members"][row["_member"]]["sha256"],
            entity_id=new_entity,
            stored_name=stored,
            storage_backend=StorageBackend.LOCAL,
            sync_status=SyncStatus.SYNCED,
            remote_title="",
            remote_labels={},
            **dict.fromkeys(REMOTE_FILE_FIELDS),
        )
        obj = self._save(table.model, values)
        if kind is not None and obj.patient_id:
            self._keep_identifier(obj.patient_id, "file", row["id"], obj.pk)
        return obj

    def _role_identifier(self, table, row, values):
        """An identifier the record had on the source server (from a FHIR import there)."""
        target = self.kind_tables.get(values.get("record_type"))
        if values.get("record_type") == "file":
            target = t.FILE_TABLE
        new_id = target and self.ids[target].get(values.get("record_id"))
        if new_id is None:
            return None
        obj, _ = ExternalIdentifier.objects.get_or_create(
            patient_id=values["patient_id"],
            record_type=values["record_type"],
            system=values["system"],
            value=values["value"],
            defaults={"record_id": new_id},
        )
        return obj

    def _row_accounts_userpreference(self, table, row, values):
        model = table.model
        existing = model._default_manager.filter(user=self.user).first()
        if existing is not None and not self.created_account:
            self.notes.append("The account's own preferences were kept.")
            return None
        values.update(user_id=self.user.pk, paperless_enabled=False, papra_enabled=False)
        if existing is not None:
            values.pop("updated_at", None)
            model._default_manager.filter(pk=existing.pk).update(**values)
            return existing
        return self._save(model, values)

    def _row_records_usertag(self, table, row, values):
        model = table.model
        existing = model._default_manager.filter(user=self.user, tag=values.get("tag")).first()
        return existing or self._save(model, {**values, "user_id": self.user.pk})

    def _row_notifications_notificationchannel(self, table, row, values):
        model = table.model
        name = base = values.get("name") or "Channel"
        number = 1
        while model._default_manager.filter(user=self.user, name=name).exists():
            number += 1
            name = f"{base} (imported {number})"[:100]
        channel = model(
            **{
                **values,
                "user_id": self.user.pk,
                "name": name,
                "is_enabled": False,
                "is_verified": False,
                "last_test_at": None,
                "last_test_status": None,
            }
        )
        settings = row.get("_settings")
        store_config(channel, settings if isinstance(settings, dict) else {})
        self.channels_needing_settings.append(name)
        return self._save(model, values, channel)

    def _row_notifications_notificationpreference(self, table, row, values):
        return self._save(table.model, {**values, "user_id": self.user.pk})

    def cleanup(self) -> None:
        for backend, name in self.written:
            try:
                backend.delete(name)
            except Exception:  # best effort; the orphan report finds leftovers
                logger.warning("archive import: could not delete %s", name, exc_info=True)


def _reason(exc: Exception) -> str:
    messages = getattr(exc, "messages", None)
    return "; ".join(str(m) for m in messages) if messages else str(exc)[:300]


def _model_or_none(label: str):
    from django.apps import apps

    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return None
    return model if t.is_reference(model) else None


def _order_reference(labels: list[str]) -> list[str]:
    """Reference tables with the ones others point at first (specialty before practitioner)."""
    ordered: list[str] = []
    remaining = list(labels)
    while remaining:
        for label in list(remaining):
            needs = {
                t.label_of(f.related_model)
                for f in t.relation_fields(_model_or_none(label))
                if t.label_of(f.related_model) in remaining and t.label_of(f.related_model) != label
            }
            if not needs:
                ordered.append(label)
                remaining.remove(label)
                break
        else:
            ordered += remaining
            break
    return ordered


def _match_reference(model, values: dict):
    """The entry of this server that is the same: by a unique field (a catalogue code), else
    by name regardless of case."""
    manager = model._default_manager
    for field in model._meta.concrete_fields:
        if field.unique and not field.primary_key and values.get(field.attname) not in (None, ""):
            found = manager.filter(**{field.attname: values[field.attname]}).first()
            if found is not None:
                return found
    name_field = next(
        (f for f in ("name", "vaccine_name", "test_name") if _has_field(model, f)), None
    )
    if name_field and values.get(name_field):
        return (
            manager.filter(**{f"{name_field}__iexact": values[name_field]}).order_by("pk").first()
        )
    return None


def _has_field(model, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _refuse_repeat(archive: Archive, user) -> None:
    old_patients = [row["id"] for row in archive.data.get("patients.patient", [])]
    if not old_patients:
        return
    values = [f"patient/{pk}" for pk in old_patients]
    if ExternalIdentifier.objects.filter(
        patient__owner=user, record_type="patient", system=archive.source_system, value__in=values
    ).exists():
        raise ArchiveAlreadyImported(
            "This archive has already been imported into this account: its patients are "
            "here. Delete them first to import it again."
        )
    if (
        archive.source_system == ServerIdentity.system()
        and archive.source_user_id == user.pk
        and user.owned_patients.filter(pk__in=old_patients).exists()
    ):
        raise ArchiveAlreadyImported(
            "This archive was made from this very account, whose patients are still here."
        )


def import_archive(
    archive: Archive, *, user=None, username: str | None = None, email: str | None = None
) -> dict:
    """Import into `user`, or into the account `username` (created when missing, without a
    usable password). Answers {"user", "created_account", "counts", "notes", ...}."""
    User = get_user_model()
    if user is None:
        user = User._default_manager.filter(username__iexact=(username or "").strip()).first()
    if user is not None:
        _refuse_repeat(archive, user)  # early, before any work
    run = None
    try:
        with transaction.atomic():
            created_account = user is None
            if not created_account:
                # Two imports of one archive at once: the second waits here, then sees the first.
                User._default_manager.select_for_update().filter(pk=user.pk).first()
                _refuse_repeat(archive, user)
            if created_account:
                source = archive.data["accounts.user"][0]
                try:
                    user = User.objects.create_user(
                        username=username,
                        email=email if email is not None else source.get("email") or "",
                        password=None,
                        first_name=str(source.get("first_name") or "")[:100],
                        last_name=str(source.get("last_name") or "")[:100],
                    )
                except Exception as exc:
                    messages = getattr(exc, "messages", None) or [str(exc)]
                    raise InvalidArchive(
                        f"The account could not be created: {'; '.join(messages)}"
                    ) from exc
            run = _Run(archive, user, created_account=created_account)
            run.references()
            run.tables()
            run.restore_stamps()
            old_active = archive.data["accounts.user"][0].get("active_patient_id")
            new_active = run.ids["patients.patient"].get(old_active)
            if new_active and (created_account or user.active_patient_id is None):
                user.active_patient_id = new_active
                user.save(update_fields=["active_patient"])
    except BaseException:
        if run is not None:
            run.cleanup()
        raise
    return {
        "user": {"id": user.pk, "username": user.username},
        "created_account": created_account,
        "source": archive.manifest["source"],
        "counts": run.counts,
        "channels_needing_settings": run.channels_needing_settings,
        "not_carried": archive.manifest.get("not_carried", []),
        "notes": run.notes,
    }
