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
