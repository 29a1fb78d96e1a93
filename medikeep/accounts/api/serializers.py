from __future__ import annotations

import zoneinfo
from functools import lru_cache

from rest_framework import serializers

from medikeep.accounts.models import User, UserPreference
from medikeep.accounts.validators import validate_username
from medikeep.api.serializers import MessageSerializer  # noqa: F401 (s.MessageSerializer)


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class UserSerializer(serializers.ModelSerializer):
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


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=50, validators=[validate_username])
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TokenResponseSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    session_timeout_minutes = serializers.IntegerField()
    expires_in = serializers.IntegerField()
    must_change_password = serializers.BooleanField()
    refresh_token = serializers.CharField()


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(required=False)
    refresh = serializers.CharField(required=False, help_text="Alias of refresh_token.")

    def validate(self, attrs):
        token = attrs.get("refresh_token") or attrs.get("refresh")
        if not token:
            raise serializers.ValidationError({"refresh_token": ["This field is required."]})
        return {"refresh_token": token}


class LogoutSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(required=False)


class ChangePasswordSerializer(serializers.Serializer):
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


class ProfileUpdateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=50, required=False, validators=[validate_username])
    email = serializers.EmailField(max_length=254, required=False)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class DeletionResultSerializer(serializers.Serializer):
    message = serializers.CharField()
    deleted_user_id = serializers.IntegerField()
    deleted_patient_id = serializers.IntegerField(allow_null=True)
    deletion_summary = serializers.DictField(child=serializers.IntegerField())


class PreferenceSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(read_only=True)
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
        ]
        read_only_fields = ["user_id", "updated_at"]

    def validate_timezone(self, value: str) -> str:
        if value and value not in _timezones():
            raise serializers.ValidationError(f"Unknown timezone {value!r}.")
        return value


class RegistrationStatusSerializer(serializers.Serializer):
    registration_enabled = serializers.BooleanField()
    message = serializers.CharField(allow_null=True)


class LogoutResponseSerializer(serializers.Serializer):
    status = serializers.CharField()
    data = serializers.DictField()
    message = serializers.CharField()


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64, help_text="From the emailed link.")
    token = serializers.CharField(max_length=128, help_text="From the emailed link.")
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)
