from __future__ import annotations

import zoneinfo
from functools import lru_cache

from rest_framework import serializers

from medikeep.accounts.models import User, UserPreference
from medikeep.accounts.validators import validate_username
from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.serializers import MessageSerializer  # noqa: F401 (s.MessageSerializer)
from medikeep.crypto import DecryptionError, decrypt_json


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class UserSerializer(FastModelSerializer):
    last_login_at = serializers.DateTimeField(source="last_login", read_only=True)
    active_patient_id = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "full_name",
            "role",
            "auth_method",
            "is_active",
            "must_change_password",
            "active_patient_id",
            "created_at",
            "updated_at",
            "last_login_at",
        ]
        read_only_fields = fields

    def get_active_patient_id(self, user) -> int | None:
        return getattr(user, "active_patient_id", None)


class RegisterSerializer(FastSerializer):
    username = serializers.CharField(max_length=50, validators=[validate_username])
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class LoginSerializer(FastSerializer):
    username = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TokenResponseSerializer(FastSerializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    session_timeout_minutes = serializers.IntegerField()
    expires_in = serializers.IntegerField()
    must_change_password = serializers.BooleanField()
    refresh_token = serializers.CharField()


class RefreshSerializer(FastSerializer):
    refresh_token = serializers.CharField(required=False)
    refresh = serializers.CharField(required=False, help_text="Alias of refresh_token.")

    def validate(self, attrs):
        token = attrs.get("refresh_token") or attrs.get("refresh")
        if not token:
            raise serializers.ValidationError({"refresh_token": ["This field is required."]})
        return {"refresh_token": token}


class LogoutSerializer(FastSerializer):
    refresh_token = serializers.CharField(required=False)


class ChangePasswordSerializer(FastSerializer):
    """Accepts the documented snake_case names and the reference web app's camelCase."""

    current_password = serializers.CharField(required=False, trim_whitespace=False)
    new_password = serializers.CharField(required=False, trim_whitespace=False)
    currentPassword = serializers.CharField(required=False, trim_whitespace=False)
    newPassword = serializers.CharField(required=False, trim_whitespace=False)

    def validate(self, attrs):
        current = attrs.get("current_password") or attrs.get("currentPassword")
        new = attrs.get("new_password") or attrs.get("newPassword")
        errors = {}
        if not current:
            errors["current_password"] = ["This field is required."]
        if not new:
            errors["new_password"] = ["This field is required."]
        if errors:
            raise serializers.ValidationError(errors)
        return {"current_password": current, "new_password": new}


def clearable_name(max_length: int) -> serializers.CharField:
    # The web app sends null for a name the user cleared: that means "", not "unchanged".
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, allow_null=True
    )


class ProfileUpdateSerializer(FastSerializer):
    """Only the keys sent change (the web app sends only the changed ones)."""

    username = serializers.CharField(max_length=50, required=False, validators=[validate_username])
    email = serializers.EmailField(max_length=254, required=False)
    first_name = clearable_name(100)
    last_name = clearable_name(100)
    full_name = clearable_name(200)

    def validate(self, attrs):
        return {key: "" if value is None else value for key, value in attrs.items()}


class DeletionResultSerializer(FastSerializer):
    message = serializers.CharField()
    deleted_user_id = serializers.IntegerField()
    deleted_patient_id = serializers.IntegerField(allow_null=True)
    deletion_summary = serializers.DictField(child=serializers.IntegerField())


def _saved_secret_keys(token: str) -> frozenset[str]:
    """Which secrets an encrypted *_secrets column holds (non-empty values only); none when it
    cannot be decrypted any more (the user then enters them again)."""
    if not token:
        return frozenset()
    try:
        value = decrypt_json(token)
    except DecryptionError:
        return frozenset()
    if not isinstance(value, dict):
        return frozenset()
    return frozenset(key for key, item in value.items() if isinstance(item, str) and item)


class PreferenceSerializer(FastModelSerializer):
    """The spec's keys (theme, notifications_enabled …) and the web app's (unit_system,
    date_format, the document back-ends) in one answer. The back-end keys are read-only here:
    they change through PUT /paperless/settings and /papra/settings, which hold the rules for
    secrets. Tokens and passwords are never answered, only whether one is saved."""

    user_id = serializers.IntegerField(read_only=True)
    paperless_has_token = serializers.SerializerMethodField()
    paperless_has_credentials = serializers.SerializerMethodField()
    papra_has_token = serializers.SerializerMethodField()
    language = serializers.RegexField(
        r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$",
        max_length=10,
        required=False,
        error_messages={"invalid": "Use a language code such as 'en' or 'pt-BR'."},
    )
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True)

    class Meta:
        model = UserPreference
        fields = [
            "user_id",
            "theme",
            "notifications_enabled",
            "language",
            "unit_system",
            "date_format",
            "timezone",
            "session_timeout_minutes",
            "updated_at",
            "paperless_enabled",
            "paperless_url",
            "paperless_has_token",
            "paperless_has_credentials",
            "paperless_auto_sync",
            "paperless_sync_tags",
            "default_storage_backend",
            "papra_enabled",
            "papra_url",
            "papra_has_token",
            "papra_organization_id",
        ]
        read_only_fields = [
            "user_id",
            "updated_at",
            "paperless_enabled",
            "paperless_url",
            "paperless_auto_sync",
            "paperless_sync_tags",
            "default_storage_backend",
            "papra_enabled",
            "papra_url",
            "papra_organization_id",
        ]

    def get_paperless_has_token(self, preference) -> bool:
        return "api_token" in _saved_secret_keys(preference.paperless_secrets)

    def get_paperless_has_credentials(self, preference) -> bool:
        return {"username", "password"} <= _saved_secret_keys(preference.paperless_secrets)

    def get_papra_has_token(self, preference) -> bool:
        return "api_token" in _saved_secret_keys(preference.papra_secrets)

    def validate_timezone(self, value: str) -> str:
        if value and value not in _timezones():
            raise serializers.ValidationError(f"Unknown timezone {value!r}.")
        return value


class RegistrationStatusSerializer(FastSerializer):
    registration_enabled = serializers.BooleanField()
    message = serializers.CharField(allow_null=True)


class SSOConfigSerializer(FastSerializer):
    enabled = serializers.BooleanField()
    provider_type = serializers.CharField(
        allow_null=True, help_text="google, github, oidc … ; null while SSO is off."
    )
    registration_enabled = serializers.BooleanField()


class LogoutResponseSerializer(FastSerializer):
    status = serializers.CharField()
    data = serializers.DictField()
    message = serializers.CharField()


class PasswordResetRequestSerializer(FastSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(FastSerializer):
    uid = serializers.CharField(max_length=64, help_text="From the emailed link.")
    token = serializers.CharField(max_length=128, help_text="From the emailed link.")
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)
