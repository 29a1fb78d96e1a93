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
    """What the login page needs to offer single sign-on and registration. Always answered
    (the web app hides its registration link too when this fails). `registration_enabled`
    is whether a new account can be made (here or through SSO): the registration switch, and
    for SSO also SSO_ALLOW_REGISTRATION."""
    enabled = bool(settings.SSO_ENABLED)
    registration = registration_enabled()
    return {
        "enabled": enabled,
        "provider_type": settings.SSO_PROVIDER_TYPE if enabled else None,
        "registration_enabled": registration
        and (not enabled or bool(settings.SSO_ALLOW_REGISTRATION)),
    }
