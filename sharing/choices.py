from django.db import models


class InvitationType(models.TextChoices):
    PATIENT_SHARE = "patient_share", "Patient share"
    FAMILY_HISTORY_SHARE = "family_history_share", "Family history share"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
