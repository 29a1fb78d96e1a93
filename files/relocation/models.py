"""The record of moving a user's local files to a document back-end (POST /paperless/migrate).

The row, not the broker, is the record of the work: the task reads its position from it, so a
retried or re-queued task carries on after the last file it handled.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class FileMigrationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE_STATUSES = (FileMigrationStatus.PENDING, FileMigrationStatus.RUNNING)


class FileMigrationJob(models.Model):
    """One user's local files moving, one by one, to Paperless-ngx or Papra.

    Counts: `total_files` when it started; `moved_files` confirmed on the back-end (their local
    copy deleted); `failed_files` left local (reasons in `failures`); `deferred_files` sent but
    still being processed by the back-end when the job's wait ran out (the regular upload task
    finishes them, local copy kept until then). `status` failed means the job stopped early
    (the back-end became unusable; `error` says why) and the files not reached stay local.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="file_migration_jobs"
    )
    target_backend = models.CharField(
        max_length=20, choices=[("paperless", "Paperless-ngx"), ("papra", "Papra")]
    )
    status = models.CharField(
        max_length=20, choices=FileMigrationStatus.choices, default=FileMigrationStatus.PENDING
    )
    total_files = models.PositiveIntegerField(default=0)
    moved_files = models.PositiveIntegerField(default=0)
    failed_files = models.PositiveIntegerField(default=0)
    deferred_files = models.PositiveIntegerField(default=0)
    # Files up to this id were handled; the task resumes after it.
    last_file_id = models.BigIntegerField(default=0)
    # Only files up to this id take part (those added later are not part of this job).
    max_file_id = models.BigIntegerField(default=0)
    current_file = models.ForeignKey(
        "files.EntityFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_file_name = models.CharField(max_length=255, blank=True, default="")
    error = models.TextField(blank=True, default="")
    failures = models.JSONField(
        default=list,
        blank=True,
        help_text="[{file_id, file_name, reason}] of the files left local.",
    )
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched after every file: a running job untouched for long is taken as dead.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "status"], name="files_migration_user_status")]
        verbose_name = "file migration job"

    def __str__(self) -> str:
        return f"Move of {self.user}'s files to {self.get_target_backend_display()} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def handled_files(self) -> int:
        return self.moved_files + self.failed_files + self.deferred_files
