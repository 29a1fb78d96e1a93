"""Issuing and checking JWTs.

The access token carries the claims the reference's web app reads (sub = username, user_id,
role, full_name) plus `sid`, the id of the refresh token it came with: logging out blacklists
that refresh token, which ends its access tokens as well.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from medikeep.accounts.models import User
from medikeep.accounts.selectors import preference_of


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    access_lifetime_seconds: int
    session_timeout_minutes: int


def access_lifetime_minutes(session_timeout_minutes: int) -> int:
    # The preference drives the client's inactivity timer; the token must outlive it.
    return max(settings.ACCESS_TOKEN_MINUTES, session_timeout_minutes)


def access_token_for(user: User, *, session_id: str, timeout_minutes: int) -> AccessToken:
    token = AccessToken.for_user(user)
    # simplejwt writes the id as a string; the web app compares it strictly with integer ids
    # (owner_user_id), so it must be a JSON number. Tokens issued earlier with a string still
    # authenticate: the user lookup accepts either.
    token[settings.SIMPLE_JWT["USER_ID_CLAIM"]] = user.pk
    token.set_exp(lifetime=timedelta(minutes=access_lifetime_minutes(timeout_minutes)))
    token["sub"] = user.username
    token["role"] = user.role
    token["full_name"] = user.full_name
    token["sid"] = session_id
    return token


def issue_tokens(user: User) -> IssuedTokens:
    timeout = preference_of(user).session_timeout_minutes
    refresh = RefreshToken.for_user(user)  # recorded as outstanding, so it can be revoked
    access = access_token_for(user, session_id=refresh["jti"], timeout_minutes=timeout)
    return IssuedTokens(
        access_token=str(access),
        refresh_token=str(refresh),
        access_lifetime_seconds=access_lifetime_minutes(timeout) * 60,
        session_timeout_minutes=timeout,
    )


def refresh_access(raw_refresh: str) -> tuple[User, IssuedTokens]:
    """A new access token for a valid, unrevoked refresh token of an active user."""
    refresh = RefreshToken(raw_refresh)  # checks signature, expiry and the blacklist
    user = User.objects.filter(pk=refresh.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])).first()
    if user is None or not user.is_active:
        raise TokenError("The account of this token is not active.")
    if refresh.get("pwh") != get_md5_hash_password(user.password):
        raise TokenError("The password has changed since this token was issued.")
    timeout = preference_of(user).session_timeout_minutes
    access = access_token_for(user, session_id=refresh["jti"], timeout_minutes=timeout)
    return user, IssuedTokens(
        access_token=str(access),
        refresh_token=raw_refresh,
        access_lifetime_seconds=access_lifetime_minutes(timeout) * 60,
        session_timeout_minutes=timeout,
    )


def revoke_session(session_id: str) -> None:
    """Blacklist the refresh token with this jti; its access tokens stop working too."""
    outstanding = OutstandingToken.objects.filter(jti=session_id).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)


def revoke_refresh_token(raw_refresh: str) -> None:
    # An expired or already revoked token needs no revoking.
    with suppress(TokenError):
        RefreshToken(raw_refresh).blacklist()


def set_session_cookie(response, issued: IssuedTokens) -> None:
    """The HttpOnly `medapp_session` cookie that browser clients authenticate with."""
    response.set_cookie(
        settings.AUTH_COOKIE_NAME,
        issued.access_token,
        max_age=issued.access_lifetime_seconds,
        httponly=True,
        samesite="Lax",
        secure=settings.AUTH_COOKIE_SECURE,
        domain=settings.AUTH_COOKIE_DOMAIN,
        path="/",
    )


def token_body(issued: IssuedTokens, user: User) -> dict:
    """What a sign-in answers (login, refresh, joining through the portal)."""
    return {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "session_timeout_minutes": issued.session_timeout_minutes,
        "expires_in": issued.access_lifetime_seconds,
        "must_change_password": user.must_change_password,
        "refresh_token": issued.refresh_token,
    }
