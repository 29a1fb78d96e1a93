"""Invitations: one user offers another access to patients (or family history).

The grant itself is patients.PatientShare; an invitation is the consent step in front of it.
Nothing is granted until the recipient accepts, and an invitation lives only until its own
`expires_at` (the share it creates may carry a different expiry: `share_expires_at`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patients.choices import ShareLevel
from patients.models import Patient
from sharing.choices import InvitationStatus, InvitationType

__all__ = ["Invitation", "InvitationQuerySet"]

# The reference's limits: an invitation lives 1 hour to a year, a week unless told.
DEFAULT_INVITATION_HOURS = 168
MAX_INVITATION_HOURS = 8760
MAX_BULK_PATIENTS = 50


class InvitationQuerySet(models.QuerySet):
    def open(self, at=None):
        """Pending invitations that may still be answered."""
        moment = at or timezone.now()
        return self.filter(status=InvitationStatus.PENDING, expires_at__gt=moment)

    def lapsed(self, at=None):
        """Pending invitations past their expiry: the cleanup marks them expired."""
        moment = at or timezone.now()
        return self.filter(status=InvitationStatus.PENDING, expires_at__lte=moment)


class Invitation(models.Model):
    """An offer from `sent_by` to `sent_to`, answered once."""

    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_invitations"
    )
    sent_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="received_invitations"
    )
    invitation_type = models.CharField(max_length=30, choices=InvitationType.choices)
    status = models.CharField(
        max_length=20, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    title = models.CharField(max_length=300)
    message = models.TextField(max_length=5000, blank=True)
    permission_level = models.CharField(
        max_length=10, choices=ShareLevel.choices, default=ShareLevel.VIEW
    )
    # When the access granted on acceptance ends (null: until revoked).
    share_expires_at = models.DateTimeField(null=True, blank=True)
    # Stored and shown, never enforced (as in the reference): the level is what counts.
    custom_permissions = models.JSONField(null=True, blank=True)
    # A bulk invitation may be accepted in part (some of its patients).
    is_bulk = models.BooleanField(default=False)
    patients = models.ManyToManyField(Patient, blank=True, related_name="+")
    family_members = models.ManyToManyField("records.FamilyMember", blank=True, related_name="+")
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    response_note = models.TextField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["sent_to", "status"], name="sharing_invitation_to"),
            models.Index(fields=["sent_by", "status"], name="sharing_invitation_by"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status="pending"),
                name="sharing_invitation_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def is_lapsed(self) -> bool:
        return self.status == InvitationStatus.PENDING and self.expires_at <= timezone.now()
