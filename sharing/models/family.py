"""Family-history shares: an owner lets another user read one family member and its conditions.

Independent of patient shares: the recipient gets no access to the patient, only to the
shared family member (read-only, whatever `permission_level` says; see the model).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from sharing.models.invitations import Invitation

__all__ = ["FamilyHistoryShare", "FamilyHistoryShareQuerySet", "FamilyShareLevel"]


class FamilyShareLevel(models.TextChoices):
    VIEW = "view", "View"
    EDIT = "edit", "Edit"


class FamilyHistoryShareQuerySet(models.QuerySet):
    def in_force(self):
        """Active shares whose sharer still owns the member's patient. A patient given to
        someone else (transfer) must not stay readable through the old owner's shares."""
        return self.filter(is_active=True, family_member__patient__owner_id=F("shared_by_id"))


class FamilyHistoryShare(models.Model):
    """`shared_with` may read `family_member` (and its conditions) while the row is active.

    `permission_level` is stored as the invitation offered it (view or edit, as the
    reference does) but grants nothing beyond reading: no endpoint lets a recipient change a
    shared member or its conditions, and recipients get no access to the patient itself.
    Revoking only clears `is_active`; a later share of the same pair is a new row, so the
    history of grants is kept (one active row per pair, enforced by the database).
    """

    invitation = models.ForeignKey(
        Invitation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="family_history_shares",
    )
    family_member = models.ForeignKey(
        "records.FamilyMember", on_delete=models.CASCADE, related_name="history_shares"
    )
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="family_shares_given"
    )
    shared_with = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="family_shares_received"
    )
    permission_level = models.CharField(
        max_length=10, choices=FamilyShareLevel.choices, default=FamilyShareLevel.VIEW
    )
    is_active = models.BooleanField(default=True)
    sharing_note = models.TextField(max_length=5000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FamilyHistoryShareQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A partial unique index: SQLite and PostgreSQL both enforce it.
            models.UniqueConstraint(
                fields=["family_member", "shared_with"],
                condition=Q(is_active=True),
                name="sharing_family_share_one_active",
            ),
        ]
        indexes = [
            models.Index(fields=["shared_with", "is_active"], name="sharing_family_share_with"),
            models.Index(fields=["shared_by", "is_active"], name="sharing_family_share_by"),
            models.Index(fields=["family_member", "is_active"], name="sharing_family_share_member"),
        ]

    def __str__(self) -> str:
        state = "active" if self.is_active else "ended"
        return f"{self.family_member_id} → {self.shared_with_id} ({state})"
