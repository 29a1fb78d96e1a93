"""The activity log: who created, changed or deleted what, and when."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class ActivityLog(models.Model):
    """One audited action, usually a record created, updated or deleted through the API.

    `metadata` holds {"before": …, "after": …, "changed": [field names]}: the full row for
    creations and deletions (so a deleted record can be read back), only the changed fields
    for updates. `patient_label` keeps the patient's name readable in the audit line.

    Rows of a patient are erased when that patient is deleted (their metadata is medical
    data the owner asked to remove); one "Deleted Patient" row without data stays.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activity_logs",
    )
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activity_logs",
    )
    patient_label = models.CharField(max_length=255, blank=True)
    # Free text on purpose: besides created/updated/deleted the log also takes login,
    # backup_created, maintenance_started … without a migration per new kind of event.
    action = models.CharField(max_length=50)
    entity_type = models.CharField(max_length=50, help_text='snake_case, e.g. "lab_result"')
    entity_id = models.BigIntegerField(null=True, blank=True)
    description = models.TextField()
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["user", "timestamp"], name="adminops_activity_user_ts"),
            models.Index(fields=["patient", "timestamp"], name="adminops_activity_patient_ts"),
            models.Index(fields=["entity_type", "entity_id"], name="adminops_activity_entity"),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M} {self.description}"

    @property
    def model_name(self) -> str:
        """The entity type as a class name: "lab_result" -> "LabResult"."""
        return "".join(part.capitalize() for part in self.entity_type.split("_"))


class BackupType(models.TextChoices):
    DATABASE = "database", "Database"
    FILES = "files", "Files"
    FULL = "full", "Full (database and files)"


class BackupStatus(models.TextChoices):
    CREATED = "created", "Being written"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    UPLOADED = "uploaded", "Uploaded"
    VERIFIED = "verified", "Verified"


class Backup(models.Model):
    """One backup archive (adminops/backups/archive.py) and what is known about it.

    `path` is relative to settings.BACKUP_DIR for archives kept there (so the folder can move)
    and absolute for archives written elsewhere (`manage.py backup --output`). `size_bytes` and
    `sha256` are those of the file as stored, encrypted or not; `details` keeps the manifest's
    summary (versions, database, table counts) so lists and previews need not open the file.
    The table's own rows are never inside an archive: a restore keeps the list of backups.
    """

    backup_type = models.CharField(max_length=20, choices=BackupType.choices)
    status = models.CharField(
        max_length=20, choices=BackupStatus.choices, default=BackupStatus.CREATED
    )
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=1000, help_text="Relative to BACKUP_DIR, or absolute.")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    description = models.TextField(blank=True, default="")
    encrypted = models.BooleanField(default=False)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_backup_type_display()} backup {self.filename}"

    @property
    def file_path(self):
        """The archive's absolute path."""
        from pathlib import Path

        path = Path(self.path)
        return path if path.is_absolute() else Path(settings.BACKUP_DIR) / path

    @property
    def file_exists(self) -> bool:
        return bool(self.path) and self.file_path.is_file()


class RestoreToken(models.Model):
    """A confirmation to restore one backup, for one admin, once, within 15 minutes
    (adminops/backups/restore.py). Only the token's SHA-256 is stored: the token itself is
    shown once, to the admin who asked for it. Rows are kept out of backups and restores."""

    token_hash = models.CharField(max_length=64, unique=True)
    backup = models.ForeignKey(Backup, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Restore token for backup {self.backup_id} (user {self.user_id})"
