"""Which account a provider identity signs in to, and the links between the two.

Order: an existing link signs in; otherwise the provider's verified email decides: an account
with that email is linked, left alone (separate account) or asked about, by that account's
linking preference; with no such account one is created when SSO registration is allowed and
the registration switch is on. Links are allauth's SocialAccount rows."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.http import Http404
from rest_framework.exceptions import Throttled

from medikeep.accounts import lockout
from medikeep.accounts.choices import UserAuthMethod, UserRole, UserSSOLinkingPreference
from medikeep.accounts.models import User, UserPreference
from medikeep.accounts.selectors import registration_enabled
from medikeep.accounts.signals import user_registered
from medikeep.accounts.sso import errors
from medikeep.accounts.sso.flow import Identity, current
from medikeep.accounts.sso.models import SSOPendingLogin, SSOPendingLoginKind
from medikeep.accounts.sso.state import pending_consume, pending_create, pending_peek
from medikeep.api.exceptions import ConflictError, UnauthorizedError

logger = logging.getLogger("medikeep.security")


@dataclass(frozen=True)
class SignIn:
    user: User
    is_new_user: bool
    return_url: str = ""


def _check_domain(email: str) -> None:
    allowed = current().allowed_domains
    if not allowed:
        return
    domain = email.rpartition("@")[2].lower()
    if not email or domain not in allowed:
        logger.warning("SSO sign-in refused: email domain %r not allowed", domain)
        raise errors.SSODomainNotAllowed()


def _check_active(user: User) -> None:
    if not user.is_active:
        logger.warning("SSO sign-in refused: account %s is deactivated", user.pk)
        raise errors.SSOAccountInactive()


def _may_register() -> bool:
    return current().allow_registration and registration_enabled()


def _free_username(*candidates: str) -> str:
    """A valid, unused user name from the provider's user name or the email's local part."""
    base = ""
    for candidate in candidates:
        cleaned = re.sub(r"[^a-z0-9_.-]+", "-", (candidate or "").lower())
        cleaned = re.sub(r"^[^a-z0-9]+", "", cleaned)[:44]
        if cleaned:
            base = cleaned
            break
    base = (base or "user").ljust(3, "0")
    name, suffix = base, 1
    while User.objects.filter(username__iexact=name).exists():
        suffix += 1
        name = f"{base}{suffix}"
    return name


def _link(user: User, identity: Identity) -> None:
    try:
        with transaction.atomic():
            SocialAccount.objects.create(
                user=user,
                provider=identity.provider,
                uid=identity.uid,
                extra_data=identity.extra_data,
            )
            if user.auth_method == UserAuthMethod.LOCAL:
                user.auth_method = UserAuthMethod.HYBRID
                user.save(update_fields=["auth_method", "updated_at"])
    except IntegrityError as exc:
        raise ConflictError("This identity is already linked to an account.") from exc
    logger.info("SSO identity %s linked to user %s", identity.provider, user.pk)


def _create_user(identity: Identity, *, email: str) -> User:
    """A new account signed in only through the provider (no usable password). It gets its own
    patient record, as a registration does (the reference left SSO accounts without one)."""
    if not _may_register():
        logger.info("SSO sign-in refused: registration through SSO is off")
        raise errors.SSORegistrationDisabled()
    first, last = identity.first_name, identity.last_name
    if not (first or last) and identity.name:
        first, _, last = identity.name.strip().partition(" ")
    user = User(
        username=_free_username(identity.username, email.partition("@")[0]),
        email=email,
        first_name=first[:100],
        last_name=last.strip()[:100],
        full_name=identity.name[:200],
        role=UserRole.USER,
        auth_method=UserAuthMethod.SSO,
    )
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
            UserPreference.objects.create(user=user)
            user_registered.send(sender=User, user=user, invited=False)
            SocialAccount.objects.create(
                user=user,
                provider=identity.provider,
                uid=identity.uid,
                extra_data=identity.extra_data,
            )
    except IntegrityError as exc:  # a concurrent sign-in made it first
        raise ConflictError(
            "An account for this identity was just created; sign in again."
        ) from exc
    logger.info("SSO created user %s through %s", user.pk, identity.provider)
    return user


def _pending_identity(identity: Identity) -> dict:
    return {
        "provider": identity.provider,
        "uid": identity.uid,
        "email": identity.email,
        "return_url": identity.return_url,
        "profile": {
            "name": identity.name,
            "first_name": identity.first_name,
            "last_name": identity.last_name,
            "username": identity.username,
            "extra_data": identity.extra_data,
        },
    }


def _identity_of(row: SSOPendingLogin) -> Identity:
    profile = row.profile or {}
    return Identity(
        provider=row.provider,
        uid=row.uid,
        email=row.email,
        unverified_email="",
        name=profile.get("name", ""),
        first_name=profile.get("first_name", ""),
        last_name=profile.get("last_name", ""),
        username=profile.get("username", ""),
        extra_data=profile.get("extra_data") or {},
        return_url=row.return_url,
    )


def _conflict_body(user: User, identity: Identity) -> dict:
    token = pending_create(
        kind=SSOPendingLoginKind.CONFLICT, existing_user=user, **_pending_identity(identity)
    )
    return {
        "conflict": True,
        "temp_token": token,
        "expires_in": 600,
        # The contract's fields …
        "existing_email": user.email,
        "sso_provider": identity.provider,
        # … and the ones the web app's conflict dialog reads.
        "existing_user_info": {
            "email": user.email,
            "username": user.username,
            "full_name": user.full_name,
            "auth_method": user.auth_method,
            "created_at": user.created_at.isoformat(),
        },
        "sso_user_info": {
            "email": identity.email,
            "name": identity.name,
            "provider": identity.provider,
        },
    }


def _github_link_body(identity: Identity) -> dict:
    token = pending_create(kind=SSOPendingLoginKind.GITHUB_LINK, **_pending_identity(identity))
    return {
        "github_manual_link": True,
        "temp_token": token,
        "expires_in": 600,
        "github_user_info": {
            "id": identity.uid,
            "login": identity.username,
            "name": identity.name,
        },
        "message": "GitHub does not share a verified email address: sign in with your "
        "MediKeep user name and password once to link this GitHub account.",
    }


def resolve(identity: Identity) -> SignIn | dict:
    """A SignIn, or the body of an answer that needs the user's decision."""
    if identity.email or current().allowed_domains:
        _check_domain(identity.email)
    linked = (
        SocialAccount.objects.select_related("user")
        .filter(provider=identity.provider, uid=identity.uid)
        .first()
    )
    if linked is not None:
        _check_active(linked.user)
        linked.extra_data = identity.extra_data
        linked.save(update_fields=["extra_data"])
        return SignIn(linked.user, False, identity.return_url)
    if not identity.email:
        if identity.is_github:
            return _github_link_body(identity)
        raise errors.SSOEmailUnverified()
    user = User.objects.filter(email__iexact=identity.email).first()
    if user is None:
        return SignIn(_create_user(identity, email=identity.email), True, identity.return_url)
    _check_active(user)
    preference = user.sso_linking_preference
    if preference == UserSSOLinkingPreference.AUTO_LINK:
        _link(user, identity)
        return SignIn(user, False, identity.return_url)
    if preference == UserSSOLinkingPreference.CREATE_SEPARATE:
        return SignIn(_create_user(identity, email=""), True, identity.return_url)
    return _conflict_body(user, identity)


def resolve_conflict(
    *, temp_token: str, action: str, preference: str | None, email: str = ""
) -> SignIn:
    """The user's answer to a conflict: link to the existing account or make a separate one.
    `preference` is remembered on the existing account for the next identity."""
    row = pending_consume(temp_token, kind=SSOPendingLoginKind.CONFLICT)
    if row is None or row.existing_user is None:
        raise errors.SSOTempTokenInvalid()
    existing = row.existing_user
    identity = _identity_of(row)
    if preference:
        existing.sso_linking_preference = preference
        existing.save(update_fields=["sso_linking_preference", "updated_at"])
    if action == "link":
        _check_active(existing)
        _link(existing, identity)
        return SignIn(existing, False, identity.return_url)
    # The provider's address belongs to the existing account; the new one takes the address
    # the user gave, when it is free, or none (addable later in the profile).
    email = (email or "").strip()
    if email and User.objects.filter(email__iexact=email).exists():
        raise ConflictError("Email address already registered.")
    return SignIn(_create_user(identity, email=email), True, identity.return_url)


def resolve_github_link(request, *, temp_token: str, username: str, password: str) -> SignIn:
    """Links a GitHub identity without a verified email to the account whose password is
    given; failures count towards that account's sign-in lock-out like password login."""
    if pending_peek(temp_token, kind=SSOPendingLoginKind.GITHUB_LINK) is None:
        raise errors.SSOTempTokenInvalid()
    username = (username or "").strip().lower()
    wait = lockout.seconds_locked(username)
    if wait:
        raise Throttled(wait, detail="Too many failed sign-ins for this account.")
    user = authenticate(request, username=username, password=password)
    if user is None:
        lockout.record_failure(username)
        logger.warning("SSO GitHub link: wrong password for %r", username)
        raise UnauthorizedError("Incorrect username or password.")
    lockout.record_success(username)
    _check_active(user)
    row = pending_consume(temp_token, kind=SSOPendingLoginKind.GITHUB_LINK)
    if row is None:
        raise errors.SSOTempTokenInvalid()
    identity = _identity_of(row)
    _link(user, identity)
    return SignIn(user, False, identity.return_url)


def refuse_password_sign_in(user: User) -> None:
    """SSO-only mode: password sign-in is for administrators only (a way in when the
    identity provider is down or misconfigured)."""
    sso = current()
    if sso.enabled and sso.sso_only and not user.is_admin:
        logger.info("password sign-in refused for user %s: SSO only", user.pk)
        raise errors.SSOPasswordSignInDisabled()


def links_of(user: User):
    return SocialAccount.objects.filter(user=user).order_by("id")


def link_remove(*, user: User, link_id: int) -> None:
    """Removes one of the user's links; never the last way in of an account without a usable
    password (it could not sign in again)."""
    with transaction.atomic():
        account = User.objects.select_for_update().filter(pk=user.pk).first()
        link = SocialAccount.objects.filter(user=user, pk=link_id).first()
        if account is None or link is None:
            raise Http404("No such linked identity.")
        others = SocialAccount.objects.filter(user=user).exclude(pk=link.pk).exists()
        if not others and not account.has_usable_password():
            raise ConflictError(
                "This is the only way to sign in to this account (it has no password): "
                "it cannot be removed."
            )
        link.delete()
        if not others and account.auth_method == UserAuthMethod.HYBRID:
            account.auth_method = UserAuthMethod.LOCAL
            account.save(update_fields=["auth_method", "updated_at"])
    logger.info("SSO link %s removed from user %s", link_id, user.pk)
