"""The single-use secrets of a sign-in: the state of a started flow and the temp_token of a
pending decision. Both are stored as SHA-256 digests and consumed by a conditional delete:
of two requests racing with the same value, exactly one deletes the row and goes on."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from medikeep.accounts.sso.models import SSOPendingLogin, SSOState

STATE_LIFETIME = timedelta(minutes=10)
PENDING_LIFETIME = timedelta(minutes=10)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def state_create(*, provider: str, nonce: str, code_verifier: str, return_url: str) -> str:
    """Records a started sign-in; returns the state to send to the provider."""
    state = new_secret()
    SSOState.objects.create(
        state_hash=digest(state),
        provider=provider,
        nonce=nonce,
        code_verifier=code_verifier,
        return_url=return_url,
    )
    # Abandoned sign-ins leave rows behind; each new one sweeps the expired ones.
    SSOState.objects.filter(created_at__lt=timezone.now() - STATE_LIFETIME).delete()
    return state


def state_consume(state: str) -> SSOState | None:
    """The sign-in this state started, if it is known, unused and younger than ten minutes;
    it is used up either way."""
    if not state or len(state) > 200:
        return None
    row = SSOState.objects.filter(state_hash=digest(state)).first()
    if row is None:
        return None
    if SSOState.objects.filter(pk=row.pk).delete()[0] != 1:
        return None  # another request consumed it first
    if row.created_at < timezone.now() - STATE_LIFETIME:
        return None
    return row


def pending_create(**fields) -> str:
    """Records a provider identity awaiting a decision; returns its temp_token."""
    token = new_secret()
    now = timezone.now()
    SSOPendingLogin.objects.create(
        token_hash=digest(token), created_at=now, expires_at=now + PENDING_LIFETIME, **fields
    )
    SSOPendingLogin.objects.filter(expires_at__lt=now).delete()
    return token


def pending_peek(token: str, *, kind: str) -> SSOPendingLogin | None:
    """The pending sign-in of this temp_token if it is of `kind` and unexpired, left in place
    (resolve-github-link checks a password first: a typo must not void the token)."""
    if not token or len(token) > 200:
        return None
    return (
        SSOPendingLogin.objects.select_related("existing_user")
        .filter(token_hash=digest(token), kind=kind, expires_at__gt=timezone.now())
        .first()
    )


def pending_consume(token: str, *, kind: str) -> SSOPendingLogin | None:
    """The pending sign-in of this temp_token if it is of `kind`, unused and unexpired; used up
    by this call."""
    row = pending_peek(token, kind=kind)
    if row is None:
        return None
    if SSOPendingLogin.objects.filter(pk=row.pk).delete()[0] != 1:
        return None
    if row.expires_at <= timezone.now():
        return None
    return row
