"""Account changes: registration, passwords, profile, preferences, deletion, the first admin."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from medikeep.accounts import tokens
from medikeep.accounts.choices import UserAuthMethod, UserRole
from medikeep.accounts.models import SystemSetting, User, UserPreference, split_full_name
from medikeep.accounts.selectors import (
    REGISTRATION_SETTING,
    email_taken,
    other_active_admins_exist,
    preference_of,
    registration_enabled,
    username_taken,
)
from medikeep.accounts.signals import password_changed, user_registered
from medikeep.api.exceptions import (
    BusinessRuleError,
    ConflictError,
    FieldValidationError,
    UnauthorizedError,
)

security_log = logging.getLogger("medikeep.security")

# Rows of these apps are account plumbing, not the user's data, in a deletion summary.
_NOT_SUMMARISED = {"accounts", "token_blacklist", "admin", "account", "sessions"}


def _check_unique(*, username: str | None, email: str | None, exclude_id: int | None) -> None:
    if username and username_taken(username, exclude_id=exclude_id):
        raise ConflictError("Username already exists.")
    if email and email_taken(email, exclude_id=exclude_id):
        raise ConflictError("Email address already registered.")


def validate_new_password(password: str, user: User | None = None) -> None:
    """Django's password validators plus the length cap; raises ValidationError."""
    if len(password) > 128:
        raise ValidationError("The password may be at most 128 characters long.")
    password_validation.validate_password(password, user)


def user_register(
    *,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    full_name: str = "",
    invited: bool = False,
) -> User:
    """Creates a local user with role "user"; refused while registration is off, unless
    `invited`: an invitation (the patient portal) is the permission to register."""
    if not invited and not registration_enabled():
        raise PermissionDenied("New user registration is currently disabled.")
    if not (first_name or last_name) and full_name:
        first_name, last_name = split_full_name(full_name)
    user = User(
        username=username.lower(),
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=UserRole.USER,
        auth_method=UserAuthMethod.LOCAL,
    )
    _check_unique(username=username, email=email, exclude_id=None)
    try:
        validate_new_password(password, user)
    except ValidationError as exc:
        raise FieldValidationError("password", " ".join(exc.messages)) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            UserPreference.objects.create(user=user)
            user_registered.send(sender=User, user=user, invited=invited)
    except IntegrityError as exc:  # a concurrent registration took the name first
        raise ConflictError("Username or email already exists.") from exc
    return user


def user_login(*, user: User, request=None) -> None:
    """Announces a sign-in with Django's `user_logged_in`, as a session login does: Django's
    own receiver stamps last_login, notifications/ looks at the address (from `request`)."""
    user_logged_in.send(sender=type(user), request=request, user=user)


def sign_in_response(request, user: User, extra: dict | None = None) -> Response:
    """Finishes a sign-in: announces it, issues the tokens and answers with their body and the
    `medapp_session` cookie. Password login, the second-factor step and SSO all end here, so
    every way in answers alike; `extra` keys are merged into the body."""
    user_login(user=user, request=request)
    issued = tokens.issue_tokens(user)
    response = Response({**tokens.token_body(issued, user), **(extra or {})})
    tokens.set_session_cookie(response, issued)
    return response


def password_change(*, user: User, current_password: str, new_password: str) -> None:
    """Checks the current password, applies the policy, and ends every other session."""
    if user.auth_method == UserAuthMethod.SSO or not user.has_usable_password():
        raise BusinessRuleError("This account signs in through SSO and has no password.")
    if not user.check_password(current_password):
        security_log.warning("password change with a wrong current password: user=%s", user.pk)
        raise UnauthorizedError("Current password is incorrect.")
    if current_password == new_password:
        raise BusinessRuleError("The new password must differ from the current one.")
    try:
        validate_new_password(new_password, user)
    except ValidationError as exc:
        raise BusinessRuleError(" ".join(exc.messages)) from exc
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password", "updated_at"])
    password_changed.send(sender=User, user=user, via="change")


@dataclass(frozen=True)
class ProfileChanges:
    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None


def user_update_profile(*, user: User, changes: ProfileChanges) -> User:
    """Only the named profile fields; role and activation are never changed here."""
    _check_unique(username=changes.username, email=changes.email, exclude_id=user.pk)
    if changes.username is not None:
        user.username = changes.username.lower()
    if changes.email is not None:
        user.email = changes.email
    if changes.first_name is not None or changes.last_name is not None:
        if changes.first_name is not None:
            user.first_name = changes.first_name
        if changes.last_name is not None:
            user.last_name = changes.last_name
        # The full name follows the parts (User.clean); with both parts cleared it must not
        # be split back into them.
        user.full_name = changes.full_name or ""
    elif changes.full_name is not None:
        user.first_name, user.last_name = split_full_name(changes.full_name)
        user.full_name = changes.full_name.strip()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise ConflictError("Username or email already exists.") from exc
    return user


def preferences_update(*, user: User, values: dict) -> UserPreference:
    preference = preference_of(user)
    for field, value in values.items():
        setattr(preference, field, value)
    preference.full_clean()
    preference.save()
    return preference


def _summary_key(model) -> str:
    return re.sub(r"\W+", "_", str(model._meta.verbose_name_plural)).strip("_").lower()


@dataclass(frozen=True)
class DeletionResult:
    deleted_user_id: int
    deleted_patient_id: int | None
    deletion_summary: dict[str, int]


def user_delete_account(*, user: User) -> DeletionResult:
    """Deletes the user and everything they own, atomically; the last admin stays."""
    if user.is_admin and not other_active_admins_exist(user):
        raise BusinessRuleError("Cannot delete the last admin user.")
    user_id = user.pk
    patient_id = getattr(user, "active_patient_id", None)
    with transaction.atomic():
        _, per_model = user.delete()
    from django.apps import apps

    summary: dict[str, int] = {}
    for label, count in per_model.items():
        app_label, _, model_name = label.partition(".")
        if app_label in _NOT_SUMMARISED or not count:
            continue
        summary[_summary_key(apps.get_model(app_label, model_name))] = count
    security_log.info("account deleted: user=%s summary=%s", user_id, summary)
    return DeletionResult(user_id, patient_id, summary)


def registration_set_enabled(*, enabled: bool) -> None:
    SystemSetting.objects.update_or_create(key=REGISTRATION_SETTING, defaults={"value": enabled})


@dataclass(frozen=True)
class AdminBootstrap:
    username: str
    created: bool
    generated_password: str | None = None


def admin_ensure(*, username: str | None, password: str | None) -> AdminBootstrap | None:
    """The first admin: from the given credentials, or `admin` with a one-time password.

    Does nothing when an admin already exists. A generated password is returned once and
    must be changed at first login.
    """
    if username and password:
        existing = User.objects.filter(username__iexact=username).first()
        if existing is not None:
            return AdminBootstrap(existing.username, created=False)
        User.objects.create_superuser(username, f"{username.lower()}@localhost", password)
        return AdminBootstrap(username.lower(), created=True)
    if User.objects.filter(role=UserRole.ADMIN).exists():
        return None
    generated = secrets.token_urlsafe(12) + "7a"  # always holds a letter and a digit
    name = "admin"
    if User.objects.filter(username__iexact=name).exists():
        name = f"admin-{secrets.token_hex(3)}"
    User.objects.create_superuser(name, f"{name}@localhost", generated, must_change_password=True)
    return AdminBootstrap(name, created=True, generated_password=generated)


def tokens_flush_expired() -> int:
    """Removes outstanding refresh tokens past their expiry; returns how many went."""
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    _, per_model = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return per_model.get(OutstandingToken._meta.label, 0)


# --- self-service password reset ------------------------------------------------------------

PASSWORD_RESET_SENT = (
    "If an account uses that email address, a link to reset its password is on its way."
)
RESET_LINK_INVALID = (
    "This password-reset link is invalid, expired or already used; ask for a new one."
)


def _may_reset_password(user: User) -> bool:
    # SSO-only accounts have no password here to reset; deactivated ones may not sign in.
    return (
        user.is_active
        and user.auth_method != UserAuthMethod.SSO
        and user.has_usable_password()
        and bool(user.email)
    )


def password_reset_request(*, email: str) -> None:
    """Emails a reset link to the account with this address when it may reset its password.
    Tells the caller nothing either way: the endpoint answers alike for every address."""
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None or not _may_reset_password(user):
        security_log.info("password reset requested for an address without a resettable account")
        return
    from medikeep.accounts.tasks import send_password_reset_email  # tasks import services

    user_id = user.pk
    transaction.on_commit(lambda: send_password_reset_email.delay(user_id))


def password_reset_link(user: User) -> str:
    """The link of the reset email: the account id and Django's reset token, which stops
    working once the password (or the last login) changes, or after PASSWORD_RESET_HOURS."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return f"{settings.APP_PUBLIC_URL.rstrip('/')}/password-reset?uid={uid}&token={token}"


def password_reset_mail(user: User) -> bool:
    """Sends the reset email; False when the account may not reset its password (any more)."""
    if not _may_reset_password(user):
        return False
    hours = settings.PASSWORD_RESET_HOURS
    lines = [
        f"Someone asked to reset the password of the MediKeep account {user.username}.",
        "",
        f"Choose a new password here (the link works once, for {hours} hour(s)):",
        password_reset_link(user),
        "",
        "Setting a new password signs the account out on every device. If you did not ask "
        "for this, ignore this email: your password stays as it is.",
    ]
    send_mail(
        subject="MediKeep: reset your password",
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    return True


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Sets a new password through a reset link. The new hash voids every token issued
    before (their `pwh` claim no longer matches) and the link itself (Django's token
    covers the hash). A bad link is a 400, a weak password a 422."""
    try:
        user = User.objects.filter(pk=int(force_str(urlsafe_base64_decode(uid)))).first()
    except (ValueError, TypeError, OverflowError):
        user = None
    if (
        user is None
        or not _may_reset_password(user)
        or not default_token_generator.check_token(user, token)
    ):
        security_log.warning("password reset refused: invalid or used link")
        raise BusinessRuleError(RESET_LINK_INVALID)
    try:
        validate_new_password(new_password, user)
    except ValidationError as exc:
        raise FieldValidationError("new_password", " ".join(exc.messages)) from exc
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password", "updated_at"])
    password_changed.send(sender=User, user=user, via="reset")
    security_log.info("password reset: user=%s", user.pk)
    return user
