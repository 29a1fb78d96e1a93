"""The patient portal: a managed patient (a child, a parent) gets an account of their own.

A PortalInvitation is an emailed, signed link that lets the patient register (or sign in)
and then grants that account a PatientShare at the level the inviter chose. A PortalRequest
is something the portal account asks of whoever manages the record: a questionnaire to file,
a refill, a new medication. The managers accept or dismiss it; deleting only hides it.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from patients.choices import ShareLevel
from patients.models import Patient

__all__ = [
    "PortalInvitation",
    "PortalInvitationStatus",
    "PortalRequest",
    "PortalRequestQuerySet",
    "PortalRequestStatus",
    "PortalRequestType",
]

# Keeps portal links from being valid as any other signed value of this server.
PORTAL_TOKEN_SALT = "sharing.portal.invitation"


class PortalInvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class PortalRequestType(models.TextChoices):
    QUESTIONNAIRE = "questionnaire", "Questionnaire"
    RX_REFILL = "rx_refill", "Prescription refill"
    RX_NEW = "rx_new", "New medication"


class PortalRequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"


class PortalInvitation(models.Model):
    """An emailed offer of portal access to `email`, answered once through its signed link.

    The link's token holds only this row's id; the row decides whether it still works
    (pending and before `expires_at`), so using or revoking an invitation kills its link.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(max_length=254)
    permission_level = models.CharField(
        max_length=10, choices=ShareLevel.choices, default=ShareLevel.VIEW
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=20,
        choices=PortalInvitationStatus.choices,
        default=PortalInvitationStatus.PENDING,
    )
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"], name="sharing_portalinv_patient")]

    def __str__(self) -> str:
        return f"Portal invitation for {self.email} ({self.status})"

    @property
    def is_lapsed(self) -> bool:
        return self.status == PortalInvitationStatus.PENDING and self.expires_at <= timezone.now()

    def token(self) -> str:
        """The signed value the emailed link carries."""
        return signing.dumps({"invitation": self.pk}, salt=PORTAL_TOKEN_SALT)

    @staticmethod
    def id_from_token(token: str) -> int | None:
        """The invitation id a token names, or None when it was not signed by this server."""
        try:
            value = signing.loads(token or "", salt=PORTAL_TOKEN_SALT)
        except signing.BadSignature:
            return None
        invitation_id = value.get("invitation") if isinstance(value, dict) else None
        return invitation_id if isinstance(invitation_id, int) else None


# What each request type's payload must name (the API validates the rest of the shape).
REQUIRED_PAYLOAD_KEYS = {
    PortalRequestType.QUESTIONNAIRE: ("title", "answers"),
    # A refill names the medication (by id, the name is then copied in, or by name alone: a
    # patient asking for a refill may not know more).
    PortalRequestType.RX_REFILL: ("medication_name",),
    PortalRequestType.RX_NEW: ("medication_name",),
}


class PortalRequestQuerySet(models.QuerySet):
    def live(self):
        """Requests not deleted: the API never shows the others (the admin does)."""
        return self.filter(deleted_at__isnull=True)


class PortalRequest(models.Model):
    """A request filed through the portal, waiting for the patient's managers.

    `medication` is the refilled medication, or the one created when a new-medication
    request is accepted. Deleting is soft: `deleted_at`/`deleted_by` record when and by whom.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    request_type = models.CharField(max_length=20, choices=PortalRequestType.choices)
    status = models.CharField(
        max_length=20, choices=PortalRequestStatus.choices, default=PortalRequestStatus.OPEN
    )
    payload = models.JSONField(default=dict)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(max_length=1000, blank=True)
    medication = models.ForeignKey(
        "records.Medication",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = PortalRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "status", "created_at"], name="sharing_portalreq_queue")
        ]

    def __str__(self) -> str:
        return f"{self.get_request_type_display()} for {self.patient_id} ({self.status})"

    def clean(self):
        if not isinstance(self.payload, dict):
            raise ValidationError({"payload": "The payload must be an object."})
        missing = [
            key
            for key in REQUIRED_PAYLOAD_KEYS.get(self.request_type, ())
            if self.payload.get(key) in (None, "", [], {})
        ]
        if missing:
            raise ValidationError(
                {"payload": f"A {self.request_type} request needs {', '.join(missing)}."}
            )
