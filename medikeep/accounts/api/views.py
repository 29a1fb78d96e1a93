"""Authentication and the signed-in user's own account."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import TokenError

from medikeep.accounts import lockout, services, tokens
from medikeep.accounts.api import serializers as s
from medikeep.accounts.api.mfa import MFAChallengeSerializer
from medikeep.accounts.mfa import services as mfa_services
from medikeep.accounts.selectors import preference_of, registration_enabled
from medikeep.accounts.sso.accounts import refuse_password_sign_in
from medikeep.api.exceptions import UnauthorizedError
from medikeep.api.origin import refuse_foreign_origin
from medikeep.api.parsers import SafeJSONParser
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip

security_log = logging.getLogger("medikeep.security")

INVALID_CREDENTIALS = "Incorrect username or password."


class RegistrationStatusView(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Whether self-registration is open",
        description="Public. `registration_enabled` tells a sign-up form whether to show "
        "itself; when an administrator has closed registration, `message` says so in words "
        "to show the visitor.",
        responses=s.RegistrationStatusSerializer,
        tags=["auth"],
    )
    def get(self, request):
        enabled = registration_enabled()
        message = None if enabled else "Registration is currently disabled. Ask your administrator."
        return Response({"registration_enabled": enabled, "message": message})


class RegisterView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "The username or email is already used by another account."}
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(
        summary="Create an account",
        description="Public, while registration is open (GET /auth/registration-status; "
        "403 when closed). The password must satisfy the password policy (422 names what "
        "is missing); a username or email already in use is refused. Answers the new user; "
        "sign in with POST /auth/login afterwards.",
        request=s.RegisterSerializer,
        responses={201: s.UserSerializer},
        examples=[
            OpenApiExample(
                "New account",
                value={
                    "username": "jdoe",
                    "email": "jane.doe@example.org",
                    "password": "correct-Horse-battery-9",
                    "full_name": "Jane Doe",
                },
                request_only=True,
            )
        ],
        tags=["auth"],
    )
    def post(self, request):
        serializer = s.RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class AccountLocked(Throttled):
    default_detail = "Too many failed sign-ins for this account."


class LoginView(ApiView):
    """OAuth2-style password form (JSON accepted too). Never tells whether a name exists."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(
        request=s.LoginSerializer,
        responses=PolymorphicProxySerializer(
            component_name="LoginResult",
            serializers=[s.TokenResponseSerializer, MFAChallengeSerializer],
            resource_type_field_name=None,
        ),
        summary="Sign in with username (or email) and password",
        description="Public. Send `username` and `password` form-encoded (an OAuth2 password "
        "form) or as JSON. Answers `access_token` (send it as `Authorization: Bearer …`), "
        "`refresh_token` and `session_timeout_minutes`, and sets the HttpOnly "
        "`medapp_session` cookie for browsers. When the account has two-factor sign-in on, "
        "the answer is instead `mfa_required` with a short-lived `mfa_token` for POST "
        "/auth/mfa/verify (and no tokens yet). A wrong name or password answers 401 without "
        "saying which; repeated failures lock the account for a while (429 with "
        "Retry-After). `must_change_password` true means every other operation answers 403 "
        "until POST /auth/change-password.",
        examples=[
            OpenApiExample(
                "Password sign-in",
                value={"username": "jdoe", "password": "correct-Horse-battery-9"},
                request_only=True,
            )
        ],
        tags=["auth"],
    )
    def post(self, request):
        # A foreign page must not sign the browser in to an account of its choosing.
        refuse_foreign_origin(request)
        serializer = s.LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"].strip().lower()
        wait = lockout.seconds_locked(username)
        if wait:
            raise AccountLocked(wait)
        user = authenticate(
            request, username=username, password=serializer.validated_data["password"]
        )
        if user is None:
            backoff = lockout.record_failure(username)
            security_log.warning(
                "failed login for %r from %s%s",
                username,
                client_ip(request),
                f"; account locked for {backoff} s" if backoff else "",
            )
            raise UnauthorizedError(INVALID_CREDENTIALS)
        lockout.record_success(username)
        if not user.is_active:
            raise UnauthorizedError(
                "This account has been deactivated. Contact your administrator."
            )
        # SSO-only mode (SSO_ONLY): after the password check, so admins keep a way in.
        refuse_password_sign_in(user)
        if mfa_services.mfa_enabled(user):
            # The password was right; tokens wait for the second factor (/auth/mfa/verify).
            return Response(mfa_services.login_challenge_start(user=user).body())
        return services.sign_in_response(request, user)


class RefreshView(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(
        summary="Exchange a refresh token for a new access token",
        description="Public: the refresh token is the credential. Answers a new "
        "`access_token` (and refreshes the session cookie); a revoked, expired or "
        "signed-out refresh token answers 401.",
        request=s.RefreshSerializer,
        responses=s.TokenResponseSerializer,
        tags=["auth"],
    )
    def post(self, request):
        refuse_foreign_origin(request)
        serializer = s.RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user, issued = tokens.refresh_access(serializer.validated_data["refresh_token"])
        except TokenError as exc:
            raise UnauthorizedError(f"Refresh token refused: {exc}") from exc
        response = Response(tokens.token_body(issued, user))
        tokens.set_session_cookie(response, issued)
        return response


class LogoutView(ApiView):
    """Ends the session: the refresh token is revoked, so are its access tokens."""

    permission_classes = [AllowAny]
    allowed_while_password_change_required = True

    def perform_authentication(self, request):
        # A stale or revoked token must not stop anyone from logging out.
        try:
            request.user  # noqa: B018
        except AuthenticationFailed:
            request._not_authenticated()

    @extend_schema(request=s.LogoutSerializer, responses=s.LogoutResponseSerializer, tags=["auth"])
    def post(self, request):
        serializer = s.LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if request.auth is not None and hasattr(request.auth, "get"):
            tokens.revoke_session(request.auth.get("sid", ""))
        if serializer.validated_data.get("refresh_token"):
            tokens.revoke_refresh_token(serializer.validated_data["refresh_token"])
        response = Response({"status": "success", "data": {}, "message": "Logged out successfully"})
        response.delete_cookie(
            settings.AUTH_COOKIE_NAME, path="/", domain=settings.AUTH_COOKIE_DOMAIN, samesite="Lax"
        )
        return response


class ChangePasswordView(ApiView):
    permission_classes = [IsAuthenticated]
    allowed_while_password_change_required = True
    throttle_scope = "auth"

    @extend_schema(
        summary="Change your password",
        description="Needs the current password (401 when wrong) and a new one that "
        "satisfies the password policy (422). Every other session of the account ends; "
        "the answer carries fresh tokens so this client stays signed in. This is the one "
        "way out of `must_change_password`.",
        request=s.ChangePasswordSerializer,
        responses=s.TokenResponseSerializer,
        tags=["auth"],
    )
    def post(self, request):
        serializer = s.ChangePasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_change(user=request.user, **serializer.validated_data)
        # Every earlier token is void now; hand this client fresh ones so it stays signed in.
        issued = tokens.issue_tokens(request.user)
        body = {
            "message": "Password changed successfully",
            **tokens.token_body(issued, request.user),
        }
        response = Response(body)
        tokens.set_session_cookie(response, issued)
        return response


class PasswordResetRequestView(ApiView):
    """Emails a password-reset link to the account with this address. The answer is the same
    whether or not such an account exists; SSO-only and deactivated accounts get no email."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    parser_classes = [SafeJSONParser]
    throttle_scope = "auth"

    @extend_schema(
        request=s.PasswordResetRequestSerializer,
        responses=s.MessageSerializer,
        tags=["auth"],
    )
    def post(self, request):
        serializer = s.PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(email=serializer.validated_data["email"])
        return Response({"message": services.PASSWORD_RESET_SENT})


class PasswordResetConfirmView(ApiView):
    """Sets a new password with the uid and token of a reset link. The link works once, and
    every session of the account ends: sign in again with the new password."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    parser_classes = [SafeJSONParser]
    throttle_scope = "auth"

    @extend_schema(
        request=s.PasswordResetConfirmSerializer,
        responses=s.MessageSerializer,
        tags=["auth"],
    )
    def post(self, request):
        serializer = s.PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response({"message": "Password reset successfully. Sign in with the new password."})


class MeView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "The username or email is already used by another account."}
    permission_classes = [IsAuthenticated]
    allowed_while_password_change_required = True

    @extend_schema(
        summary="Your account",
        description="The signed-in user's account: names, email, role, and whether the "
        "password must be changed first. Reachable while a password change is pending.",
        responses=s.UserSerializer,
        tags=["users"],
    )
    def get(self, request):
        return Response(s.UserSerializer(request.user).data)

    @extend_schema(
        summary="Change your account details",
        description="Changes only the fields sent (username, email, names). A username or "
        "email another account uses is refused.",
        request=s.ProfileUpdateSerializer,
        responses=s.UserSerializer,
        tags=["users"],
    )
    def put(self, request):
        serializer = s.ProfileUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_profile(
            user=request.user, changes=services.ProfileChanges(**serializer.validated_data)
        )
        return Response(s.UserSerializer(user).data)

    @extend_schema(
        summary="Delete your account",
        description="Deletes the account, the patients it owns and all their records, and "
        "signs out. Cannot be undone. The last administrator cannot delete itself.",
        responses=s.DeletionResultSerializer,
        tags=["users"],
    )
    def delete(self, request):
        result = services.user_delete_account(user=request.user)
        response = Response(
            {
                "message": "Account and all associated data deleted successfully",
                "deleted_user_id": result.deleted_user_id,
                "deleted_patient_id": result.deleted_patient_id,
                "deletion_summary": result.deletion_summary,
            }
        )
        response.delete_cookie(settings.AUTH_COOKIE_NAME, path="/", samesite="Lax")
        return response


class PreferencesView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Your preferences",
        description="Units, language, theme, session timeout and the document back-end "
        "settings of the signed-in user. Secrets are never answered, only whether one is "
        "set (`*_has_token`).",
        responses=s.PreferenceSerializer,
        tags=["users"],
    )
    def get(self, request):
        return Response(s.PreferenceSerializer(preference_of(request.user)).data)

    @extend_schema(
        summary="Change your preferences",
        description="Changes only the fields sent; what is not sent stays. Unknown values "
        "of a choice (unit system, language …) answer 422.",
        request=s.PreferenceSerializer,
        responses=s.PreferenceSerializer,
        tags=["users"],
    )
    def put(self, request):
        serializer = s.PreferenceSerializer(
            preference_of(request.user), data=request.data, partial=True
        )
        serializer.is_valid(raise_exception=True)
        preference = services.preferences_update(
            user=request.user, values=serializer.validated_data
        )
        return Response(s.PreferenceSerializer(preference).data)
