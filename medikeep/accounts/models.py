"""Accounts: the user, their preferences, and run-time system settings."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from medikeep.accounts.choices import (
    DocumentBackend,
    PreferenceDateFormat,
    PreferenceTheme,
    PreferenceUnitSystem,
    UserAuthMethod,
    UserRole,
    UserSSOLinkingPreference,
)
from medikeep.accounts.validators import validate_username


def split_full_name(full_name: str) -> tuple[str, str]:
    first, _, last = (full_name or "").strip().partition(" ")
    return first, last.strip()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(username__iexact=username)

    def create_user(self, username, email, password=None, **fields):
        user = self.model(username=username, email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, username, email, password=None, **fields):
        fields.pop("is_staff", None)
        fields.pop("is_superuser", None)
        fields["role"] = UserRole.ADMIN
        return self.create_user(username, email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """An account. `role` is the truth for privileges; Django's staff flags follow it."""

    # Stored lower-case, so plain uniqueness is also case-insensitive uniqueness.
    username = models.CharField(max_length=50, unique=True, validators=[validate_username])
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=20, choices=UserRole.choices, default=UserRole.USER)
    auth_method = models.CharField(
        max_length=20, choices=UserAuthMethod.choices, default=UserAuthMethod.LOCAL
    )
    is_active = models.BooleanField(default=True)
    must_change_password = models.BooleanField(default=False)
    sso_linking_preference = models.CharField(
        max_length=20,
        choices=UserSSOLinkingPreference.choices,
        default=UserSSOLinkingPreference.ALWAYS_ASK,
    )
    # The patient that endpoints without a patient_id act on ("Netflix-style" switching).
    active_patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
            # An account made by SSO's "create separate account" has no email of its own
            # yet (its provider's address belongs to the other account): empty is not unique.
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                condition=~models.Q(email=""),
                violation_error_message="A user with that email already exists.",
            ),
        ]
        indexes = [models.Index(fields=["role", "is_active"], name="accounts_user_role_active")]

    def __str__(self) -> str:
        return self.username

    @property
    def is_staff(self) -> bool:
        return self.role == UserRole.ADMIN

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN

    def clean(self):
        self.username = (self.username or "").strip().lower()
        self.email = (self.email or "").strip()
        if self.first_name or self.last_name:
            self.full_name = f"{self.first_name} {self.last_name}".strip()
        elif self.full_name:
            self.first_name, self.last_name = split_full_name(self.full_name)

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        user._stored_must_change_password = user.__dict__.get("must_change_password")
        return user

    def save(self, *args, **kwargs):
        self.clean()
        # Admins are superusers of the Django admin; no separate staff hierarchy.
        self.is_superuser = self.role == UserRole.ADMIN
        update_fields = kwargs.get("update_fields")
        if (
            self._password is not None
            and (update_fields is None or "password" in update_fields)
            and getattr(self, "_stored_must_change_password", False)
            and self.must_change_password
        ):
            # A new password ends the forced change the database holds, whichever path set
            # it: the API, the Django admin's password forms, `manage.py changepassword`.
            # `_password` holds the raw text only after set_password() (Django clears it when
            # check_password() merely re-hashes at sign-in, which must not count). A flag set
            # together with the password — a new account's one-time password, an operator's
            # temporary one — was not stored yet, so it stays.
            self.must_change_password = False
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "must_change_password"}
        super().save(*args, **kwargs)
        self._stored_must_change_password = self.__dict__.get("must_change_password")


class UserPreference(models.Model):
    """Display and session preferences; one row per user, created on first read."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="preference")
    theme = models.CharField(
        max_length=10, choices=PreferenceTheme.choices, default=PreferenceTheme.LIGHT
    )
    notifications_enabled = models.BooleanField(default=True)
    language = models.CharField(max_length=10, default="en")
    unit_system = models.CharField(
        max_length=10, choices=PreferenceUnitSystem.choices, default=PreferenceUnitSystem.IMPERIAL
    )
    date_format = models.CharField(
        max_length=10, choices=PreferenceDateFormat.choices, default=PreferenceDateFormat.MDY
    )
    # Empty means the facility timezone (settings.TIME_ZONE).
    timezone = models.CharField(max_length=64, blank=True, default="")
    session_timeout_minutes = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(5), MaxValueValidator(1440)]
    )
    # Document back-ends (Paperless-ngx, Papra): the web app reads and writes them as
    # preferences. Tokens and passwords live only in the *_secrets columns, encrypted with
    # medikeep/crypto.py (encrypt_json of {"api_token", "username", "password"}), never answered.
    paperless_enabled = models.BooleanField(default=False)
    paperless_url = models.URLField(max_length=500, blank=True)
    paperless_secrets = models.TextField(blank=True, editable=False)
    paperless_auto_sync = models.BooleanField(default=False)
    paperless_sync_tags = models.BooleanField(default=True)
    default_storage_backend = models.CharField(
        max_length=10, choices=DocumentBackend.choices, default=DocumentBackend.LOCAL
    )
    papra_enabled = models.BooleanField(default=False)
    papra_url = models.URLField(max_length=500, blank=True)
    papra_secrets = models.TextField(blank=True, editable=False)
    papra_organization_id = models.CharField(max_length=255, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "user preference"

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class SystemSetting(models.Model):
    """A run-time override of a setting, changed by admins (e.g. allow_user_registration)."""

    key = models.CharField(max_length=100, primary_key=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}"


# Two-factor sign-in keeps its models in its own package; importing them here registers them.
from medikeep.accounts.mfa.models import MFALoginChallenge, RecoveryCode, TOTPDevice  # noqa: E402

__all__ = [
    "MFALoginChallenge",
    "RecoveryCode",
    "SystemSetting",
    "TOTPDevice",
    "User",
    "UserPreference",
    "split_full_name",
]


# Single sign-on state lives in its own module of this app.
from medikeep.accounts.sso.models import SSOPendingLogin, SSOState  # noqa: E402, F401
