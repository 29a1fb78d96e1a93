"""Reads with rules for accounts."""

from __future__ import annotations

from django.conf import settings

from medikeep.accounts.choices import UserRole
from medikeep.accounts.models import SystemSetting, User, UserPreference

REGISTRATION_SETTING = "allow_user_registration"


def system_setting(key: str, default):
    row = SystemSetting.objects.filter(key=key).values_list("value", flat=True).first()
    return default if row is None else row


def registration_enabled() -> bool:
    """The admin's run-time switch wins over the ALLOW_USER_REGISTRATION default."""
    return bool(system_setting(REGISTRATION_SETTING, settings.ALLOW_USER_REGISTRATION))


def preference_of(user: User) -> UserPreference:
    preference, _ = UserPreference.objects.get_or_create(user=user)
    return preference


def other_active_admins_exist(user: User) -> bool:
    return User.objects.filter(role=UserRole.ADMIN, is_active=True).exclude(pk=user.pk).exists()


def username_taken(username: str, *, exclude_id: int | None = None) -> bool:
    return User.objects.filter(username__iexact=username).exclude(pk=exclude_id).exists()


def email_taken(email: str, *, exclude_id: int | None = None) -> bool:
    return User.objects.filter(email__iexact=email).exclude(pk=exclude_id).exists()


def sso_config() -> dict:
    """What the login page needs to offer single sign-on and registration.

    SSO is not built yet, so it is off; the login page still needs a 200 here, or it hides the
    registration link too. The SSO work replaces the first two values.
    """
    return {"enabled": False, "provider_type": None, "registration_enabled": registration_enabled()}
