"""Writing a user's whole account into one zip.

Layout: `manifest.json`; `data/<app>.<model>.json` per table (a JSON list of rows, each the
model's concrete fields by attname with the old primary key and old foreign-key ids);
`reference/<app>.<model>.json` for the directory and catalogue entries the rows point at;
`files/<old id>/<name>` and `photos/<old id>/<name>` for bytes. The manifest lists every
member with its SHA-256 and size; import checks all of them before it writes anything.

Rows are written one at a time into the zip member and file bytes are copied in chunks, so
memory stays flat whatever the size of the account; the zip itself goes to a spooled
temporary file that callers stream out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from collections import defaultdict

from django.conf import settings
from django.utils import timezone

from files import storage
from files.backends.remote import has_local_copy, is_remote, open_remote
from interop.archive import tables as t
from interop.models import ServerIdentity
from notifications.channels import CHANNEL_TYPES, PLAIN

logger = logging.getLogger("interop")

FORMAT = "medikeep-account-archive"
VERSION = 1
MANIFEST = "manifest.json"
SPOOL_BYTES = 8 * 1024 * 1024
CHUNK = 256 * 1024


class _HashingWriter:
    """A zip member being written that counts its SHA-256 and size on the way."""

    def __init__(self, handle):
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.handle.write(data)


def safe_member_name(name: str) -> str:
    """A file name usable as the last part of a zip path (no folders, no odd characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", name.rsplit("/", 1)[-1]).strip(" .")
    return cleaned[:150] or "file"


class ArchiveWriter:
    def __init__(self, zf):
        self.zf = zf
        self.members: dict[str, dict] = {}

    def _open(self, path: str):
        return self.zf.open(path, "w", force_zip64=True)

    def _done(self, path: str, writer: _HashingWriter) -> None:
        self.members[path] = {"sha256": writer.digest.hexdigest(), "size": writer.size}

    def rows(self, path: str, rows) -> int:
        """A JSON list written row by row; answers the row count."""
        count = 0
        with self._open(path) as handle:
            writer = _HashingWriter(handle)
            writer.write(b"[")
            for row in rows:
                writer.write((b",\n" if count else b"\n") + json.dumps(row).encode())
                count += 1
            writer.write(b"\n]\n")
        self._done(path, writer)
        return count

    def chunks(self, path: str, chunks) -> None:
        try:
            with self._open(path) as handle:
                writer = _HashingWriter(handle)
                for chunk in chunks:
                    writer.write(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        self._done(path, writer)

    def json(self, path: str, data) -> None:
        with self._open(path) as handle:
            writer = _HashingWriter(handle)
            writer.write(json.dumps(data, indent=2).encode())
        self._done(path, writer)


def _plain_settings(channel) -> dict:
    """The channel's settings that are no secret and no private identifier (host, port,
    priority …): tokens, passwords, webhook URLs and addresses stay behind."""
    from notifications.channels import channel_config

    spec = CHANNEL_TYPES.get(channel.channel_type)
    try:
        config = channel_config(channel)
    except Exception:  # undecryptable settings travel as none at all
        return {}
    masks = spec.config.masks if spec else {}
    return {k: v for k, v in config.items() if masks.get(k, PLAIN) == PLAIN}


def _file_chunks(entity_file):
    """The file's bytes as chunks, or (None, reason) when they cannot be had.

    A back-end's document is fetched whole into a temporary file first: a connection lost
    half-way then leaves it out (listed) instead of leaving half a member in the zip."""
    try:
        if is_remote(entity_file):
            return _fetched(open_remote(entity_file).chunks), None
        if has_local_copy(entity_file):
            return storage.stream(entity_file.stored_name), None
    except FileNotFoundError:
        return None, "the stored bytes are missing"
    except Exception as exc:  # any back-end failure: listed, not fatal
        logger.warning("archive: file %s not carried: %s", entity_file.pk, exc)
        return None, f"its document back-end could not be read ({type(exc).__name__})"
    return None, "no bytes are stored for it"


def _fetched(chunks):
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by read()
    try:
        for chunk in chunks:
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    spool.seek(0)

    def read():
        with spool:
            yield from iter(lambda: spool.read(CHUNK), b"")

    return read()


def write_archive(user, fileobj) -> dict:
    """Write `user`'s account as a zip into `fileobj` (seekable); answers the manifest."""
    import zipfile

    patient_ids = list(user.owned_patients.values_list("pk", flat=True))
    counts: dict[str, int] = {}
    not_carried: list[dict] = []
    references: dict[type, set[int]] = defaultdict(set)

    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        out = ArchiveWriter(zf)

        out.json(
            "data/accounts.user.json",
            [
                {
                    "id": user.pk,
                    "username": user.username,
                    "email": user.email,
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "full_name": user.full_name,
                    "active_patient_id": user.active_patient_id,
                }
            ],
        )
        counts["accounts.user"] = 1

        for table in t.tables():
            model = table.model
            fields = t.carried_fields(model)
            relations = [f for f in t.relation_fields(model) if t.is_reference(f.related_model)]
            queryset = t.owned_rows(table, user, patient_ids)

            def rows(queryset=queryset, fields=fields, relations=relations, table=table):
                for obj in queryset.iterator(chunk_size=1000):
                    row = t.row_of(obj, fields)
                    for field in relations:
                        value = getattr(obj, field.attname)
                        if value is not None:
                            references[field.related_model].add(value)
                    if table.role == "file":
                        chunks, reason = _file_chunks(obj)
                        if chunks is None:
                            not_carried.append(
                                {
                                    "table": table.label,
                                    "id": obj.pk,
                                    "name": obj.file_name,
                                    "reason": reason,
                                }
                            )
                            continue
                        member = f"files/{obj.pk}/{safe_member_name(obj.file_name)}"
                        out.chunks(member, chunks)
                        row["_member"] = member
                    elif table.role == "photo":
                        member = f"photos/{obj.pk}/{safe_member_name(obj.filename or 'photo.jpg')}"
                        try:
                            handle = obj.file.open("rb")
                        except (FileNotFoundError, ValueError):
                            not_carried.append(
                                {
                                    "table": table.label,
                                    "id": obj.pk,
                                    "name": obj.original_name,
                                    "reason": "the stored bytes are missing",
                                }
                            )
                            continue
                        with handle:
                            out.chunks(member, iter(lambda h=handle: h.read(CHUNK), b""))
                        row["_member"] = member
                    elif table.label == "notifications.notificationchannel":
                        row["_settings"] = _plain_settings(obj)
                        row["is_enabled"] = False
                    yield row

            # A zip member cannot be written while another is open: file bytes go first,
            # into members of their own, then the table's rows.
            if table.role in ("file", "photo"):
                buffered = list(rows())
                counts[table.label] = out.rows(table.member, buffered)
            else:
                counts[table.label] = out.rows(table.member, rows())

        # The reference entries, following their own links (a practitioner's specialty).
        seen: dict[type, set[int]] = defaultdict(set)
        pending = dict(references)
        while pending:
            model, ids = pending.popitem()
            ids = ids - seen[model]
            if not ids:
                continue
            seen[model] |= ids
            for field in t.relation_fields(model):
                if t.is_reference(field.related_model):
                    linked = set(
                        model._default_manager.filter(pk__in=ids)
                        .exclude(**{f"{field.attname}__isnull": True})
                        .values_list(field.attname, flat=True)
                    )
                    if linked - seen[field.related_model]:
                        pending.setdefault(field.related_model, set()).update(linked)
        reference_counts = {}
        for model, ids in sorted(seen.items(), key=lambda item: t.label_of(item[0])):
            fields = t.carried_fields(model)
            rows = (
                t.row_of(obj, fields)
                for obj in model._default_manager.filter(pk__in=ids).order_by("pk")
            )
            reference_counts[t.label_of(model)] = out.rows(
                f"reference/{t.label_of(model)}.json", rows
            )

        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": timezone.now().isoformat(),
            "source": {"system": ServerIdentity.system(), "app_version": settings.APP_VERSION},
            "app_version": settings.APP_VERSION,
            "user": {
                "id": user.pk,
                "username": user.username,
                "email": user.email,
                "patients": len(patient_ids),
            },
            "counts": counts,
            "reference_counts": reference_counts,
            "not_carried": not_carried,
            "members": out.members,
        }
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
    return manifest


def archive_file(user):
    """(a spooled temporary file positioned at 0 holding the zip, its size, the manifest)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed on
    try:
        manifest = write_archive(user, spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, size, manifest


def archive_name(user) -> str:
    return f"medikeep-{user.username}-{timezone.localdate():%Y-%m-%d}.zip"
