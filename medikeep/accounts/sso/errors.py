"""SSO refusals. Each carries an error_code the web app (or an operator) can tell apart; the
API's one exception handler renders them in the usual envelope."""

from __future__ import annotations

from rest_framework import status

from medikeep.api.exceptions import ApiError


class SSODisabled(ApiError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Single sign-on is not enabled on this server."
    error_code = "SSO_DISABLED"


class SSOMisconfigured(ApiError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Single sign-on is not configured correctly; ask your administrator."
    error_code = "SSO_MISCONFIGURED"


class SSOStateInvalid(ApiError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = (
        "This sign-in link is invalid, expired (10 minutes) or already used; start again."
    )
    error_code = "SSO_STATE_INVALID"


class SSOExchangeFailed(ApiError):
    """The provider refused the code (wrong, used or expired) or the client credentials."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The identity provider did not accept this sign-in; start again."
    error_code = "SSO_EXCHANGE_FAILED"


class SSOProviderUnreachable(ApiError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The identity provider could not be reached; try again later."
    error_code = "SSO_PROVIDER_UNREACHABLE"


class SSOTokenInvalid(ApiError):
    """The ID token failed a check: signature, issuer, audience, expiry or nonce."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "The identity provider's answer could not be verified."
    error_code = "SSO_TOKEN_INVALID"


class SSOEmailUnverified(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = (
        "Your identity provider does not confirm that your email address is verified; "
        "verify it there and sign in again."
    )
    error_code = "SSO_EMAIL_UNVERIFIED"


class SSODomainNotAllowed(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "Accounts of this email domain may not sign in here."
    error_code = "SSO_DOMAIN_NOT_ALLOWED"


class SSORegistrationDisabled(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = (
        "No account uses this email address and new accounts cannot be created through "
        "single sign-on; ask your administrator."
    )
    error_code = "REGISTRATION_DISABLED"


class SSOTempTokenInvalid(ApiError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This sign-in has expired (10 minutes) or was already completed; start again."
    error_code = "SSO_TEMP_TOKEN_INVALID"


class SSOAccountInactive(ApiError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "This account has been deactivated. Contact your administrator."
    error_code = "AUTH-401"


class SSOPasswordSignInDisabled(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "Password sign-in is turned off on this server: sign in with single sign-on."
    error_code = "SSO_ONLY"
