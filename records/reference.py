"""The sibling base for reference data (DESIGN.md §4): shared directories and catalogues.

Directories (practitioners, practices, pharmacies and injury types) are read by every
signed-in user — a household shares its doctors and pharmacies — and changed or deleted only
by the user who created the entry or an admin. Medical specialties are listed and
quick-created by anyone signed in, but changed only by admins (the contract gives them no
other update path). Catalogues (the lab-test and vaccine libraries) change only through the
admin and the maintenance endpoints.
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


def directory_link(target: str, help_text: str) -> models.ForeignKey:
    """A record's pointer into the directory ("Practitioner", "Pharmacy"). Optional, and
    SET_NULL: deleting a directory entry leaves the records that named it (never a 500)."""
    return models.ForeignKey(
        f"records.{target}",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=help_text,
    )
