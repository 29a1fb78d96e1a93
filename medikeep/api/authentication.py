"""JWT from the Authorization header or from the browser's HttpOnly session cookie."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from medikeep.api.origin import enforce_same_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BearerOrCookieJWTAuthentication(JWTAuthentication):
    """Bearer header first; the reference's web app sends only the `medapp_session` cookie.

    The user row and "has this session been logged out" come back in one query. A browser
    attaches the cookie to requests other sites make it send, so an unsafe request carried
    by the cookie alone must come from our own origin (medikeep/api/origin.py).
    """

    def authenticate(self, request):
        header = self.get_header(request)
        raw_token = self.get_raw_token(header) if header is not None else None
        if raw_token is None:
            raw_token = request.COOKIES.get(settings.AUTH_COOKIE_NAME) or None
            if raw_token is None:
                return None
            if request.method not in SAFE_METHODS:
                enforce_same_origin(request._request)
        validated = self.get_validated_token(raw_token)
        return self.get_user(validated), validated

    def get_user(self, validated_token):
        user_id = validated_token.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])
        if user_id is None:
            raise InvalidToken("Token contained no recognizable user identification")
        revoked = BlacklistedToken.objects.filter(token__jti=validated_token.get("sid", ""))
        user = (
            get_user_model()
            .objects.annotate(session_revoked=Exists(revoked))
            .filter(pk=user_id)
            .first()
        )
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if not user.is_active:
            raise AuthenticationFailed("This account has been deactivated.", code="user_inactive")
        if validated_token.get("pwh") != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                "The password has changed; please log in again.", code="password_changed"
            )
        if user.session_revoked:
            raise AuthenticationFailed("This session has ended; please log in again.")
        return user
