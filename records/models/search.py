"""The search index: one row per findable record, kept in step with the records themselves.

One table for every type makes a search across types one indexed query instead of one
per type. The text columns hold folded text (lower case, accents removed) so that what
the user types and what is stored meet on either database; the database's own full-text
index sits on top of `body` (records/search/, migration 0015).
"""

from __future__ import annotations

from django.db import models

from patients.models import Patient

__all__ = ["SearchEntry"]


class SearchEntry(models.Model):
    """A record as search sees it. Rebuilt from the record; never edited by hand."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    record_type = models.CharField(max_length=40)  # RecordKind.name
    record_id = models.BigIntegerField()
    title = models.CharField(max_length=255, blank=True)  # as written, for display
    folded_title = models.CharField(max_length=255, blank=True)  # for exact/prefix ranking
    body = models.TextField(blank=True)  # folded title, text fields, codes and tags
    tags = models.TextField(blank=True)  # ",a,b," like TaggedMixin.tag_index
    record_date = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-record_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record_type", "record_id"], name="records_search_one_per_record"
            )
        ]
        indexes = [
            models.Index(
                fields=["patient", "record_type", "record_date"], name="records_search_patient"
            )
        ]
        verbose_name_plural = "search entries"

    def __str__(self) -> str:
        return f"{self.record_type} {self.record_id}: {self.title}"
