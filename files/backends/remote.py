"""What is the same for every document back-end: sending a stored file there, confirming the
remote copy before the local bytes go, streaming a remote document through our views, linking
an existing document, and sync. A back-end plugs in through files.backends.backend_for.

Where a file's bytes are:
- `storage_backend == "local"`: in our storage, as always;
- a back-end, with a local copy (`stored_name` is a storage key): the upload is on its way
  (sync_status pending / processing) or failed (failed); the local bytes are served;
- a back-end without a local copy (`stored_name` starts with REMOTE_PREFIX, a unique marker
  that is no storage key): the document id names the bytes, streamed from the back-end.

The local copy is deleted only after the back-end confirms the document (checksum, else size).
Credentials: a file's bytes are fetched with the settings of the user who put it there
(`uploaded_by`), since people who see the record through a share have no back-end of their own.
Their access is still decided by our views, as for local files.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator

from django.db import transaction
from django.utils import timezone

from files import storage
from files.backends import (
    BackendDocumentNotFound,
    BackendNotConfigured,
    DocumentBackendClient,
    RemoteContent,
    backend_enabled,
    backend_for,
    backend_label,
    preference_of,
)
from files.models import EntityFile, StorageBackend, SyncStatus

logger = logging.getLogger("files")

# Rows whose bytes live only on a back-end have a stored_name under this prefix (papra_links
# uses "remote/papra/…"); no entity type is called "remote", so no storage key starts so.
REMOTE_PREFIX = "remote/"
DOCUMENT_ID_FIELDS = {
    StorageBackend.PAPERLESS: "paperless_document_id",
    StorageBackend.PAPRA: "papra_document_id",
}
# Only Paperless answers a task to poll; other back-ends store at once.
TASK_ID_FIELDS = {StorageBackend.PAPERLESS: "paperless_task_uuid"}

DONE, WAIT, FAILED = "done", "wait", "failed"


# --- where the bytes are ---------------------------------------------------------------------


def has_local_copy(entity_file: EntityFile) -> bool:
    return not entity_file.stored_name.startswith(REMOTE_PREFIX)


def is_remote(entity_file: EntityFile) -> bool:
    """Served from the back-end: stored there and no local copy left."""
    return entity_file.storage_backend != StorageBackend.LOCAL and not has_local_copy(entity_file)


def remote_stored_name(backend: str, document_id) -> str:
    """A unique `stored_name` for a row whose bytes live only on a back-end (unique per row,
    so one document may be linked to several records)."""
    return f"{REMOTE_PREFIX}{backend}/{document_id}/{uuid.uuid4().hex}"


def document_id_of(entity_file: EntityFile) -> str | None:
    field = DOCUMENT_ID_FIELDS.get(entity_file.storage_backend)
    return getattr(entity_file, field) if field else None


def task_id_of(entity_file: EntityFile) -> str | None:
    field = TASK_ID_FIELDS.get(entity_file.storage_backend)
    return getattr(entity_file, field) if field else None


def check_target(name: str, user) -> None:
    """Raise BackendNotConfigured unless `user` has back-end `name` set up and enabled."""
    if not backend_enabled(name, preference_of(user)):
        raise BackendNotConfigured(
            f"{backend_label(name)} is not configured or not enabled in your settings.",
            backend=name,
        )


def client_of_file(entity_file: EntityFile) -> DocumentBackendClient:
    """The client with the settings of the user who put the file on the back-end."""
    try:
        client = backend_for(entity_file.storage_backend, entity_file.uploaded_by)
    except BackendNotConfigured as exc:
        label = backend_label(entity_file.storage_backend)
        raise BackendNotConfigured(
            f"This file is kept in {label}, and the {label} settings of the person who added "
            "it are missing or switched off.",
            backend=entity_file.storage_backend,
        ) from exc
    # A back-end that keeps documents per organization (Papra) reads a file in the
    # organization it went to, not in whichever one the uploader has chosen since.
    in_organization = getattr(client, "for_organization", None)
    if in_organization is not None and entity_file.papra_organization_id:
        client = in_organization(entity_file.papra_organization_id)
    return client


# --- sending a local file -----------------------------------------------------------------


class _ChunkReader:
    """A read()-able view of storage.stream, so a client can send a stored file."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def _md5_of_local(entity_file: EntityFile) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in storage.stream(entity_file.stored_name):
        digest.update(chunk)
    return digest.hexdigest()


def _update(entity_file: EntityFile, **changes) -> None:
    """Write `changes` unless another worker already took the local copy away."""
    changes["updated_at"] = timezone.now()
    EntityFile.objects.filter(pk=entity_file.pk, stored_name=entity_file.stored_name).update(
        **changes
    )
    for field, value in changes.items():
        setattr(entity_file, field, value)


def mark_failed(entity_file: EntityFile, reason: str) -> None:
    """The upload will not complete: the row stays with its local copy (still served)."""
    logger.warning(
        "%s upload of file %s failed: %s",
        backend_label(entity_file.storage_backend),
        entity_file.pk,
        reason,
    )
    _update(entity_file, sync_status=SyncStatus.FAILED, last_sync_at=timezone.now())


def send(entity_file: EntityFile, client: DocumentBackendClient | None = None) -> None:
    """Send the local bytes to the back-end once (a task id or a document id is kept)."""
    client = client or client_of_file(entity_file)
    reader = _ChunkReader(storage.stream(entity_file.stored_name))
    title = entity_file.description[:128] or entity_file.file_name.rsplit(".", 1)[0]
    result = client.upload(
        reader,
        file_name=entity_file.file_name,
        content_type=entity_file.file_type or "application/octet-stream",
        title=title,
        tags=list((entity_file.remote_labels or {}).get("tags") or []),
        correspondent=(entity_file.remote_labels or {}).get("correspondent") or "",
    )
    # Papra names the document after the file; Paperless takes our title.
    sent_title = entity_file.file_name if client.name == "papra" else title
    changes = {"sync_status": SyncStatus.PROCESSING, "remote_title": sent_title[:255]}
    task_field = TASK_ID_FIELDS.get(entity_file.storage_backend)
    if result.task_id and task_field:
        changes[task_field] = result.task_id
    if result.document_id:
        changes[DOCUMENT_ID_FIELDS[entity_file.storage_backend]] = str(result.document_id)
    organization = getattr(client, "organization_id", None)
    if organization and entity_file.storage_backend == StorageBackend.PAPRA:
        changes["papra_organization_id"] = str(organization)
    _update(entity_file, **changes)


def record_document_id(entity_file: EntityFile, document_id: str) -> None:
    """Keep the id of the document the back-end made from our upload."""
    _update(entity_file, **{DOCUMENT_ID_FIELDS[entity_file.storage_backend]: str(document_id)})


def advance(file_id: int) -> str:
    """One step of getting a file onto its back-end: send it if not sent, poll the back-end's
    task, confirm the document and drop the local copy. Returns DONE, WAIT (ask again later)
    or FAILED. Raises BackendUnavailable / BackendTimeout for the caller to retry."""
    entity_file = EntityFile.objects.select_related("uploaded_by").filter(pk=file_id).first()
    if (
        entity_file is None
        or entity_file.storage_backend == StorageBackend.LOCAL
        or not has_local_copy(entity_file)
    ):
        return DONE
    if entity_file.sync_status == SyncStatus.FAILED:
        return FAILED
    try:
        client = client_of_file(entity_file)
    except BackendNotConfigured as exc:
        mark_failed(entity_file, str(exc.detail))
        return FAILED
    document_id = document_id_of(entity_file)
    if not document_id:
        if not task_id_of(entity_file):
            send(entity_file, client)
            document_id = document_id_of(entity_file)
        if not document_id:
            state = client.task_status(task_id_of(entity_file))
            if state["status"] == "FAILURE":
                mark_failed(entity_file, state.get("error") or "the back-end refused the file")
                return FAILED
            if state["status"] != "SUCCESS":
                return WAIT
            document_id = state["document_id"]
            record_document_id(entity_file, document_id)
    return _confirm_and_drop_local(entity_file, client, document_id)


def _confirm_and_drop_local(entity_file, client, document_id: str) -> str:
    try:
        same = client.confirm(
            document_id,
            size=entity_file.file_size,
            md5=_md5_of_local(entity_file),
            sha256=entity_file.sha256,
        )
    except BackendDocumentNotFound:
        same = False
    if not same:
        mark_failed(entity_file, f"document {document_id} does not match the file we sent")
        return FAILED
    local_name = entity_file.stored_name
    with transaction.atomic():
        updated = EntityFile.objects.filter(pk=entity_file.pk, stored_name=local_name).update(
            stored_name=remote_stored_name(entity_file.storage_backend, document_id),
            sync_status=SyncStatus.SYNCED,
            last_sync_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if updated:
            # Only once the row no longer names them: a failed commit keeps bytes and row.
            transaction.on_commit(lambda: storage.delete(local_name))
    return DONE


def start_upload(entity_file: EntityFile, *, try_now: bool = True) -> EntityFile:
    """Begin moving a stored file to its back-end (the row already names it, with its local
    copy). Tries the first send right away so the answer can carry the task id; whatever
    fails here is left to the task, which retries with back-off."""
    from files import tasks
    from files.backends import BackendError

    if try_now:
        try:
            send(entity_file)
        except BackendError as exc:
            logger.info("first send of file %s failed, the task retries: %s", entity_file.pk, exc)
    file_id = entity_file.pk
    transaction.on_commit(lambda: tasks.complete_remote_upload.delay(file_id))
    return entity_file


# --- reading, linking, sync ---------------------------------------------------------------


def open_remote(entity_file: EntityFile) -> RemoteContent:
    return client_of_file(entity_file).open(document_id_of(entity_file))


def link_document(
    *,
    user,
    backend: str,
    document_id: str,
    entity_name: str,
    entity_id: int,
    patient_id: int,
    description: str = "",
    extra: dict | None = None,
) -> EntityFile:
    """A row pointing at an existing document of the user's back-end (no local copy)."""
    from files.services import announce_created

    client = backend_for(backend, user)
    document = client.describe(document_id)
    title = str(document.get("title") or "")
    file_name = document.get("original_file_name") or title or document_id
    with transaction.atomic():
        entity_file = EntityFile.objects.create(
            patient_id=patient_id,
            entity_type=entity_name,
            entity_id=entity_id,
            file_name=file_name[:255],
            remote_title=title[:255],
            stored_name=remote_stored_name(backend, document.get("id") or document_id),
            file_size=int(document.get("size") or 0),
            file_type=(document.get("content_type") or "application/octet-stream")[:100],
            sha256="",
            description=description,
            storage_backend=backend,
            sync_status=SyncStatus.SYNCED,
            last_sync_at=timezone.now(),
            uploaded_by=user,
            **{DOCUMENT_ID_FIELDS[backend]: str(document.get("id") or document_id)},
            **(extra or {}),
        )
        announce_created(user=user, entity_file=entity_file)
    return entity_file


def files_to_sync(user, backend: str):
    """The caller's live files on `backend` that name a document."""
    field = DOCUMENT_ID_FIELDS[backend]
    return (
        EntityFile.objects.live()
        .filter(storage_backend=backend, uploaded_by=user, **{f"{field}__isnull": False})
        .exclude(**{field: ""})
        .order_by("pk")
    )


def sync(user, backend: str) -> dict[str, bool]:
    """{file_id: whether its document still exists}; a gone document marks the row missing
    (never deleted), one that came back is synced again, and a title changed on the back-end
    is kept in remote_title. A failing back-end raises before anything is marked: only the
    back-end's own 404 means "missing"."""
    files = list(
        files_to_sync(user, backend).only(
            "pk", "sync_status", "storage_backend", "remote_title", DOCUMENT_ID_FIELDS[backend]
        )
    )
    if not files:
        return {}  # nothing to check: no need for the back-end to be set up at all
    client = backend_for(backend, user)
    answer: dict[str, bool] = {}
    gone, back, present, retitled = [], [], [], []
    for entity_file in files:
        title = client.title_of(document_id_of(entity_file))
        answer[str(entity_file.pk)] = title is not None
        if title is None:
            gone.append(entity_file.pk)
            continue
        if entity_file.sync_status == SyncStatus.MISSING:
            back.append(entity_file.pk)
        else:
            present.append(entity_file.pk)
        if title[:255] != entity_file.remote_title:
            entity_file.remote_title = title[:255]
            retitled.append(entity_file)
    # Four statements whatever the number of files.
    now = timezone.now()
    rows = EntityFile.objects
    with transaction.atomic():
        rows.filter(pk__in=gone).update(sync_status=SyncStatus.MISSING, last_sync_at=now)
        rows.filter(pk__in=back).update(sync_status=SyncStatus.SYNCED, last_sync_at=now)
        rows.filter(pk__in=present).update(last_sync_at=now)
        if retitled:
            rows.bulk_update(retitled, ["remote_title"], batch_size=500)
    return answer


def unfinished_upload_ids(*, older_than_minutes: int = 30) -> list[int]:
    """Rows still on their way to a back-end, untouched for a while (the sweeper's list)."""
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    return list(
        EntityFile.objects.live()
        .exclude(storage_backend=StorageBackend.LOCAL)
        .exclude(stored_name__startswith=REMOTE_PREFIX)
        .filter(sync_status__in=[SyncStatus.PENDING, SyncStatus.PROCESSING], updated_at__lt=cutoff)
        .values_list("pk", flat=True)[:500]
    )
