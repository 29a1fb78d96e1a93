"""Papra documents as entity files: linking an existing document to a record, and the sync
check that refreshes names and marks documents deleted in Papra as missing.

A linked row holds no bytes of ours: its `stored_name` is the shared remote marker
(files.backends.remote, "remote/papra/…": no storage key, unique per row, so one document can
be linked to several records), and the bytes are streamed from Papra through the
access-checked views.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from files import services
from files.backends import BackendDocumentNotFound, backend_for
from files.backends.papra import NAME, PapraClient
from files.backends.remote import remote_stored_name
from files.entity_types import EntityType
from files.models import EntityFile, StorageBackend, SyncStatus
from files.uploads import clean_file_name
from medikeep.api.exceptions import ConflictError

logger = logging.getLogger("files")


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
            remote_title=str(meta.get("name") or "")[:255],
            stored_name=remote_stored_name(NAME, document_id),
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
        services.announce_created(user=user, entity_file=entity_file, ip=ip)
    return entity_file


def sync_user_files(*, user, client: PapraClient | None = None) -> dict[str, bool]:
    """Checks every live Papra file the user stored or linked: {file_id: still there}.

    A document deleted in Papra (or moved to its trash) marks the row `missing` — the row
    stays, so the record shows what was lost; one that is back is marked synced again. The
    name follows a rename in Papra. A failure to reach Papra raises (502/504) before anything
    is marked: only Papra's own answer means "missing". The rows are written in three
    statements whatever their number (plus one per renamed document)."""
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
    missing, present, renamed = [], [], {}
    for entity_file in files:
        remote = client.for_organization(entity_file.papra_organization_id)
        try:
            document = remote.document(entity_file.papra_document_id)
        except BackendDocumentNotFound:
            document = None
        found = document is not None and not document.get("isDeleted")
        answer[str(entity_file.pk)] = found
        if not found:
            missing.append(entity_file.pk)
            continue
        present.append(entity_file.pk)
        name = clean_file_name(document.get("name") or "") if document.get("name") else ""
        if name and (name != entity_file.file_name or name != entity_file.remote_title):
            renamed[entity_file.pk] = name
    now = timezone.now()
    rows = EntityFile.objects.filter
    with transaction.atomic():
        if missing:
            logger.info("papra sync: %d document(s) gone for user %s", len(missing), user.pk)
            rows(pk__in=missing).update(
                sync_status=SyncStatus.MISSING, last_sync_at=now, updated_at=now
            )
        if present:
            rows(pk__in=present, sync_status=SyncStatus.MISSING).update(
                sync_status=SyncStatus.SYNCED, updated_at=now
            )
            rows(pk__in=present).update(last_sync_at=now)
        for pk, name in renamed.items():
            rows(pk=pk).update(file_name=name, remote_title=name[:255], updated_at=now)
    return answer
