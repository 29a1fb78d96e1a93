"""Papra documents as entity files: linking an existing document to a record, and the sync
check that refreshes names and marks documents deleted in Papra as missing.

A linked row holds no bytes of ours: `stored_name` is a key under "remote/papra/" that no
storage object has (kept unique per row, so one document can be linked to several records),
and the bytes are streamed from Papra through the access-checked views.
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.utils import timezone

from files import services
from files.backends import BackendDocumentNotFound, backend_for
from files.backends.papra import NAME, PapraClient
from files.entity_types import EntityType
from files.models import EntityFile, StorageBackend, SyncStatus
from files.uploads import clean_file_name
from medikeep.api.exceptions import ConflictError
from patients.choices import RecordAction
from patients.core.serializers import model_snapshot

logger = logging.getLogger("files")

REMOTE_PREFIX = "remote/papra"


def remote_key(document_id: str) -> str:
    return f"{REMOTE_PREFIX}/{document_id}/{uuid.uuid4().hex}"


def link_document(
    *,
    user,
    client: PapraClient,
    entity: EntityType,
    entity_id: int,
    patient_id: int,
    document_id: str,
    description: str = "",
    ip: str | None = None,
) -> EntityFile:
    """Creates the row of a Papra document attached to a record; name, type, size and
    checksum come from Papra (BackendDocumentNotFound when it is gone or in Papra's trash)."""
    meta = client.describe(document_id)
    organization_id = meta.get("organization_id") or client.organization_id
    already = EntityFile.objects.live().filter(
        entity_type=entity.name,
        entity_id=entity_id,
        storage_backend=StorageBackend.PAPRA,
        papra_document_id=document_id,
    )
    if already.exists():
        raise ConflictError("This Papra document is already attached to the record.")
    sha256 = str(meta.get("sha256") or "")
    with transaction.atomic():
        entity_file = EntityFile.objects.create(
            patient_id=patient_id,
            entity_type=entity.name,
            entity_id=entity_id,
            file_name=clean_file_name(meta.get("name") or document_id),
            stored_name=remote_key(document_id),
            file_size=meta.get("size") or 0,
            file_type=(meta.get("mime") or "application/octet-stream")[:100],
            sha256=sha256 if len(sha256) == 64 else "",
            description=description,
            storage_backend=StorageBackend.PAPRA,
            sync_status=SyncStatus.SYNCED,
            papra_document_id=document_id,
            papra_organization_id=organization_id,
            last_sync_at=timezone.now(),
            uploaded_by=user if getattr(user, "is_authenticated", False) else None,
        )
        services._announce(
            user=user,
            entity_file=entity_file,
            action=RecordAction.CREATED,
            after=model_snapshot(entity_file),
            ip=ip,
        )
    return entity_file


def sync_user_files(*, user, client: PapraClient | None = None) -> dict[str, bool]:
    """Checks every live Papra file the user stored or linked: {file_id: still there}.

    A document deleted in Papra (or moved to its trash) marks the row `missing` — the row
    stays, so the record shows what was lost; one that is back is marked synced again. The
    name follows a rename in Papra. A failure to reach Papra raises (502/504) instead of
    reading as "missing"; rows checked before it keep their update."""
    files = list(
        EntityFile.objects.live()
        .filter(
            uploaded_by=user,
            storage_backend=StorageBackend.PAPRA,
            papra_document_id__isnull=False,
        )
        .exclude(papra_document_id="")
        .order_by("id")
    )
    if not files:
        return {}
    client = client or backend_for(NAME, user)
    answer: dict[str, bool] = {}
    for entity_file in files:
        remote = client.for_organization(entity_file.papra_organization_id)
        try:
            document = remote.document(entity_file.papra_document_id)
        except BackendDocumentNotFound:
            document = None
        present = document is not None and not document.get("isDeleted")
        _record_check(entity_file, document if present else None)
        answer[str(entity_file.pk)] = present
    return answer


def _record_check(entity_file: EntityFile, document: dict | None) -> None:
    changes = {"last_sync_at": timezone.now()}
    if document is None:
        changes["sync_status"] = SyncStatus.MISSING
        logger.info("papra sync: document of file %s is gone", entity_file.pk)
    else:
        if entity_file.sync_status == SyncStatus.MISSING:
            changes["sync_status"] = SyncStatus.SYNCED
        name = document.get("name")
        if name and clean_file_name(name) != entity_file.file_name:
            changes["file_name"] = clean_file_name(name)
    # An update of only these columns: the row is not re-saved whole (a concurrent metadata
    # change of its description stays).
    EntityFile.objects.filter(pk=entity_file.pk).update(**changes, updated_at=timezone.now())
