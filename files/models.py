"""Files attached to records: one model for every record type that takes files."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StorageBackend(models.TextChoices):
    # "local" is this server's own storage, whether the file system or S3 (settings choose);
    # the others are outside document systems, linked by a later issue.
    LOCAL = "local", "This server"
    PAPERLESS = "paperless", "Paperless-ngx"
    PAPRA = "papra", "Papra"


class SyncStatus(models.TextChoices):
    SYNCED = "synced", "Synced"
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    FAILED = "failed", "Failed"
    MISSING = "missing", "Missing"


class EntityFileQuerySet(models.QuerySet):
    def live(self):
        return self.filter(trashed_at__isnull=True)

    def trashed(self):
        return self.filter(trashed_at__isnull=False)

    def of_entity(self, type_name: str, entity_id: int):
        return self.filter(entity_type=type_name, entity_id=entity_id)


class EntityFile(models.Model):
    """A file attached to one record (entity type + id; the record is found through
    files.entity_types, so one table serves every type without a foreign key per type).

    `patient` is kept for scoping: every access check runs on it. It is SET_NULL so that a
    deleted patient's files stay in the trash (and in storage) until the purge removes both.
    Deleting moves a file to the trash (`trashed_at`); its bytes stay where they are until the
    retention window has passed, so a restore is a single column update.
    """

    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="entity_files",
    )
    entity_type = models.CharField(max_length=50)
    entity_id = models.BigIntegerField()
    # The name the file had on the uploader's machine, cleaned: shown and offered on download,
    # never used as a path.
    file_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=500, unique=True, help_text="The storage key.")
    file_size = models.BigIntegerField()
    file_type = models.CharField(max_length=100, help_text="MIME type detected from the content.")
    sha256 = models.CharField(max_length=64)
    description = models.TextField(blank=True, default="", max_length=1000)
    category = models.CharField(max_length=100, blank=True, default="")
    storage_backend = models.CharField(
        max_length=20, choices=StorageBackend.choices, default=StorageBackend.LOCAL
    )
    sync_status = models.CharField(
        max_length=20, choices=SyncStatus.choices, default=SyncStatus.SYNCED
    )
    paperless_document_id = models.CharField(max_length=255, null=True, blank=True)
    paperless_task_uuid = models.CharField(max_length=255, null=True, blank=True)
    papra_document_id = models.CharField(max_length=255, null=True, blank=True)
    papra_organization_id = models.CharField(max_length=255, null=True, blank=True)
    # The document's title on its back-end as of the last sync: a rename there shows here
    # without touching file_name (the name the file had when it came to us).
    remote_title = models.CharField(max_length=255, blank=True, default="")
    # Labels to give the document on its back-end when it is sent ({"tags": [names],
    # "correspondent": name}); kept on the row so a retried send still applies them.
    remote_labels = models.JSONField(blank=True, default=dict)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="uploaded_files",
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    trashed_at = models.DateTimeField(null=True, blank=True)
    trashed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="trashed_files",
    )
    trash_reason = models.CharField(max_length=100, blank=True, default="")

    objects = EntityFileQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [
            models.Index(fields=["entity_type", "entity_id"], name="files_entity"),
            models.Index(fields=["patient", "uploaded_at"], name="files_patient_uploaded"),
            models.Index(fields=["trashed_at"], name="files_trashed_at"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.entity_type} {self.entity_id})"

    @property
    def in_trash(self) -> bool:
        return self.trashed_at is not None


# Jobs moving a user's local files to a document back-end live in their own module.
from files.relocation.models import FileMigrationJob, FileMigrationStatus  # noqa: E402, F401
