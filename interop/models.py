"""What interop keeps: where imported records came from, and emergency links."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from patients.models import Patient


class ServerIdentity(models.Model):
    """This server's own identifier system (one row). Exported records carry it, so a record
    that comes back, here or on another server, is recognised instead of duplicated."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    instance = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "server identity"
        verbose_name_plural = "server identity"

    def __str__(self) -> str:
        return f"urn:uuid:{self.instance}"

    @classmethod
    def system(cls) -> str:
        """The identifier system of records made here: urn:uuid:<this server>."""
        identity, _ = cls.objects.get_or_create(pk=1)
        return str(identity)


class ExternalIdentifier(models.Model):
    """An identifier a record came with from elsewhere (a FHIR identifier, a fullUrl, the id it
    had on the server an archive came from). Importing the same data again finds the record
    through it and updates instead of duplicating."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    record_type = models.CharField(max_length=50, help_text="The record kind's name, or 'patient'.")
    record_id = models.BigIntegerField()
    system = models.CharField(max_length=255)
    value = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "record_type", "system", "value"],
                name="interop_external_identifier_unique",
            )
        ]
        indexes = [models.Index(fields=["record_type", "record_id"], name="interop_ext_record")]

    def __str__(self) -> str:
        return f"{self.record_type} {self.record_id}: {self.system}|{self.value}"


class EmergencyLink(models.Model):
    """A link that shows one patient's emergency summary to someone without an account. Only
    the SHA-256 of its random token is kept: the token itself is shown once, at creation."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="emergency_links")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"emergency link {self.pk} for patient {self.patient_id}"


class EmergencyLinkAccess(models.Model):
    """One opening of an emergency link: the owner reads who opened it and when."""

    link = models.ForeignKey(EmergencyLink, on_delete=models.CASCADE, related_name="accesses")
    accessed_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True, default="")
    format = models.CharField(max_length=10, help_text="What was read: page, json, pdf or fhir.")

    class Meta:
        ordering = ["-accessed_at", "-id"]
        indexes = [models.Index(fields=["link", "accessed_at"], name="interop_access_link")]

    def __str__(self) -> str:
        return f"{self.link_id} at {self.accessed_at:%Y-%m-%d %H:%M}"
