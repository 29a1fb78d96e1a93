"""Custom reports: saved report templates and the PDFs generated from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from patients.models import Patient

__all__ = ["GeneratedReport", "ReportStatus", "ReportTemplate"]


class ReportTemplate(models.Model):
    """A user's saved report choices (which records, which charts, which settings).

    Deleting removes the row, so the name can be used again at once (the reference soft
    deletes and then refuses the name).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_templates"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    is_public = models.BooleanField(default=False)
    # Kept as given; it grants nothing (as in the reference, where it is never enforced).
    shared_with_family = models.BooleanField(default=False)
    selected_records = models.JSONField(default=list, blank=True)  # [{category, record_ids}]
    trend_charts = models.JSONField(null=True, blank=True)  # {vital_charts, lab_test_charts}
    report_settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="records_report_template_name")
        ]

    def __str__(self) -> str:
        return self.name


class ReportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class GeneratedReport(models.Model):
    """One generated PDF: what was asked, its state, and where its bytes are kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generated_reports"
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=255)
    report_type = models.CharField(max_length=50, default="custom")
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    request = models.JSONField(default=dict, blank=True)  # the generate body, validated
    storage_key = models.CharField(max_length=255, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)
    record_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="records_report_user"),
            models.Index(fields=["status", "created_at"], name="records_report_status"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"
