"""What two-factor sign-in keeps: the TOTP device, recovery codes, pending login challenges.

The models belong to the "accounts" app (medikeep/accounts/models.py imports them); their
migration is accounts/0004_mfa.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class TOTPDevice(models.Model):
    """A user's authenticator app. The shared secret is encrypted at rest (medikeep/crypto.py);
    `confirmed_at` is set once a first code proved the app holds it — only a confirmed device
    makes the second factor required. `last_used_step` is the newest accepted time step: a
    code of that step or an older one is refused, so a code works once.

    `failed_attempts` and `locked_until` limit code guessing per account, from any address
    and across server processes (the cache is per process in the embedded set-up)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    encrypted_secret = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(null=True, blank=True)
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "unconfirmed"
        return f"TOTP device of user {self.user_id} ({state})"


class RecoveryCode(models.Model):
    """One single-use recovery code, kept only as a SHA-256 digest: the code itself is shown
    once, when the set is made. Codes are random (60 bits), so an unsalted digest is safe."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "code_digest"], name="accounts_recovery_code_unique"
            )
        ]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of user {self.user_id}"


class MFALoginChallenge(models.Model):
    """A password sign-in waiting for its second factor. The client holds the token; the
    database holds its digest. Consumed by a conditional delete (single use), refused after
    `expires_at` or after too many wrong codes."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_challenges"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    failed_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "MFA login challenge"

    def __str__(self) -> str:
        return f"MFA login challenge {self.pk} of user {self.user_id}"
