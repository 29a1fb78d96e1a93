"""The sibling base for reference data (DESIGN.md §4): shared directories and catalogues.

Directories (practitioners, practices, pharmacies, user-created specialties and injury types)
are read by every signed-in user — a household shares its doctors and pharmacies — and
changed or deleted only by the user who created the entry or an admin. Catalogues (the
lab-test and vaccine libraries, seeded specialties) change only through the admin and the
maintenance endpoints.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DirectoryModel(models.Model):
    """Base of shared, user-maintained reference entries."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["id"]


def may_change_entry(user, entry: DirectoryModel) -> bool:
    """Only the creator or an admin changes a directory entry (the reference lets anyone)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and (getattr(user, "is_admin", False) or entry.created_by_id == user.pk)
    )
