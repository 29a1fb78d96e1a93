"""/auth/mfa: two-factor sign-in with an authenticator app (TOTP) and recovery codes.

- GET  auth/mfa                  — status;
- POST auth/mfa/totp/setup       — starts an enrolment: secret, otpauth URI, QR code;
- POST auth/mfa/totp/confirm     — turns it on with a first code; answers the recovery codes;
- POST auth/mfa/recovery-codes   — ten new recovery codes (password + app code);
- POST auth/mfa/disable          — turns it off (password + app or recovery code);
- POST auth/mfa/verify           — anonymous: finishes a password sign-in that answered
                                   `mfa_required` (medikeep/accounts/mfa/services.py).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from medikeep.accounts import services as account_services
from medikeep.accounts.api.serializers import TokenResponseSerializer
from medikeep.accounts.mfa import services
from medikeep.accounts.sso.accounts import refuse_password_sign_in
from medikeep.api.origin import refuse_foreign_origin
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip

TAGS = ["auth"]


# --- serializers ----------------------------------------------------------------------------


class CodeField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", "A 6-digit code from the authenticator app.")
        super().__init__(**kwargs)


class MFAStatusSerializer(FastSerializer):
    enabled = serializers.BooleanField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    recovery_codes_left = serializers.IntegerField()
    setup_pending = serializers.BooleanField(
        help_text="An enrolment was started and not confirmed yet."
    )
    methods = serializers.ListField(child=serializers.CharField())


class TOTPSetupSerializer(FastSerializer):
    secret = serializers.CharField(help_text="Base32; shown only in this answer.")
    otpauth_uri = serializers.CharField()
    qr_code = serializers.CharField(help_text="The otpauth URI as an SVG QR code (data URI).")


class ConfirmSerializer(FastSerializer):
    code = CodeField()


class RecoveryCodesSerializer(FastSerializer):
    enabled = serializers.BooleanField()
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Each works once; shown only in this answer."
    )


class PasswordAndCodeSerializer(FastSerializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    code = CodeField(
        help_text="A code from the authenticator app (or, to disable, a recovery code)."
    )


class DisabledSerializer(FastSerializer):
    enabled = serializers.BooleanField()
    message = serializers.CharField()


class VerifySerializer(FastSerializer):
    mfa_token = serializers.CharField(max_length=256)
    code = CodeField(help_text="A code from the authenticator app, or a recovery code.")


class MFAChallengeSerializer(FastSerializer):
    mfa_required = serializers.BooleanField()
    mfa_token = serializers.CharField()
    methods = serializers.ListField(child=serializers.CharField())
    expires_in = serializers.IntegerField(help_text="Seconds the token stays valid.")


# --- views ----------------------------------------------------------------------------------


class MFAStatusView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=MFAStatusSerializer,
        tags=TAGS,
        summary="Two-factor sign-in status",
        description="Whether two-factor sign-in is on for your account, since when, how many "
        "recovery codes are left and whether an enrolment was started but not confirmed.",
    )
    def get(self, request):
        status = services.mfa_status(request.user)
        body = {
            "enabled": status.enabled,
            "confirmed_at": status.confirmed_at,
            "recovery_codes_left": status.recovery_codes_left,
            "setup_pending": status.setup_pending,
            "methods": list(services.METHODS) if status.enabled else [],
        }
        return Response(MFAStatusSerializer(body).data)


class TOTPSetupView(ApiView):
    """Starts or restarts an enrolment (a new secret each time); 409 when already on."""

    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "Two-factor sign-in is already on."}
    permission_classes = [IsAuthenticated]
    throttle_scope = "auth"

    @extend_schema(request=None, responses=TOTPSetupSerializer, tags=TAGS, summary="Start TOTP")
    def post(self, request):
        enrolment = services.totp_setup(user=request.user)
        body = {
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.otpauth_uri,
            "qr_code": enrolment.qr_code,
        }
        return Response(TOTPSetupSerializer(body).data)


class TOTPConfirmView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "Two-factor sign-in is already on."}
    permission_classes = [IsAuthenticated]
    throttle_scope = "auth"

    @extend_schema(
        request=ConfirmSerializer,
        responses=RecoveryCodesSerializer,
        tags=TAGS,
        summary="Turn two-factor sign-in on",
        description="Confirms the enrolment POST /auth/mfa/totp/setup started with a code "
        "from the authenticator app. Answers the recovery codes, shown this once: keep them "
        "somewhere safe. A wrong code answers 422.",
    )
    def post(self, request):
        body = ConfirmSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        codes = services.totp_confirm(
            user=request.user, code=body.validated_data["code"], ip_address=client_ip(request)
        )
        return Response({"enabled": True, "recovery_codes": codes})


class RecoveryCodesView(ApiView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "auth"

    @extend_schema(
        request=PasswordAndCodeSerializer,
        responses=RecoveryCodesSerializer,
        tags=TAGS,
        summary="New recovery codes (the old ones stop working)",
        description="Needs your password and a current code. Answers a fresh set of "
        "recovery codes, shown this once; the previous codes stop working.",
    )
    def post(self, request):
        body = PasswordAndCodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        codes = services.recovery_codes_renew(
            user=request.user, ip_address=client_ip(request), **body.validated_data
        )
        return Response({"enabled": True, "recovery_codes": codes})


class DisableView(ApiView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "auth"

    @extend_schema(
        request=PasswordAndCodeSerializer,
        responses=DisabledSerializer,
        tags=TAGS,
        summary="Turn two-factor sign-in off",
        description="Needs your password and a code from the authenticator app or a "
        "recovery code. Sign-in then asks for the password only.",
    )
    def post(self, request):
        body = PasswordAndCodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.mfa_disable(
            user=request.user, ip_address=client_ip(request), **body.validated_data
        )
        return Response({"enabled": False, "message": "Two-factor sign-in is off."})


class VerifyView(ApiView):
    """Finishes a password sign-in that answered `mfa_required`: the same answer and cookie
    as a sign-in without a second factor. A wrong code counts toward the account's limit."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(
        request=VerifySerializer,
        responses=TokenResponseSerializer,
        tags=TAGS,
        summary="Second step of a password sign-in",
    )
    def post(self, request):
        refuse_foreign_origin(request)
        body = VerifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, _method = services.login_challenge_verify(
            token=body.validated_data["mfa_token"], code=body.validated_data["code"]
        )
        # SSO-only mode switched on while this sign-in waited for its code still applies.
        refuse_password_sign_in(user)
        return account_services.sign_in_response(request, user)
