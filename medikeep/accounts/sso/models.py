"""Single-use, expiring SSO state, kept in the database so that every server process shares it
(the reference kept it in one process's memory: one worker only, lost on restart)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SSOState(models.Model):
    """One started sign-in: the state sent to the provider (stored hashed), the ID token nonce
    and the PKCE verifier. Consumed by the callback with a conditional delete, so a state
    works once, however many requests race for it."""

    state_hash = models.CharField(max_length=64, unique=True)
    provider = models.CharField(max_length=30)
    nonce = models.CharField(max_length=128)
    code_verifier = models.CharField(max_length=128)
    return_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        app_label = "accounts"
        verbose_name = "SSO sign-in state"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.provider} sign-in started {self.created_at:%Y-%m-%d %H:%M:%S}"


class SSOPendingLoginKind(models.TextChoices):
    CONFLICT = "conflict", "Email matches an existing account"
    GITHUB_LINK = "github_link", "GitHub account without a verified email"


class SSOPendingLogin(models.Model):
    """A provider identity waiting for the user's decision (conflict) or for a password
    (GitHub manual link). Found by its temp_token, stored hashed; single use."""

    token_hash = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=SSOPendingLoginKind.choices)
    provider = models.CharField(max_length=200)
    uid = models.CharField(max_length=191)
    email = models.EmailField(max_length=254, blank=True)
    # name, first_name, last_name, username and the provider's profile data for the link
    profile = models.JSONField(default=dict, blank=True)
    existing_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    return_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        app_label = "accounts"
        verbose_name = "SSO pending sign-in"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.provider} {self.uid}"
