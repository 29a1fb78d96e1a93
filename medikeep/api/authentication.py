"""JWT from the Authorization header or from the browser's HttpOnly session cookie."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from medikeep.api.origin import enforce_same_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


_SID, _PK = "session-id-placeholder", -1  # stand-ins, swapped for the request's values


@lru_cache(maxsize=4)
def _user_and_session_query(alias: str) -> tuple[str, tuple]:
    """The SQL of "this user, and has this session been logged out", compiled once per
    process: it is the same for every request but for two parameters, and compiling it cost
    a third of authentication. Returns the SQL and its parameters with stand-ins."""
    revoked = BlacklistedToken.objects.filter(token__jti=_SID)
    query = get_user_model().objects.annotate(session_revoked=Exists(revoked)).filter(pk=_PK).query
    sql, params = query.get_compiler(alias).as_sql()
    return sql, tuple(params)


def _fetch_user(user_id, session_id: str):
    sql, template = _user_and_session_query(connection.alias)
    values = {_SID: session_id, _PK: user_id}
    params = [values.get(p, p) if isinstance(p, str | int) else p for p in template]
    return next(iter(get_user_model().objects.raw(sql, params)), None)


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
        try:  # tokens issued before the claim became an integer carry a string
            user_id = int(validated_token.get(settings.SIMPLE_JWT["USER_ID_CLAIM"]))
        except (TypeError, ValueError):
            raise InvalidToken("Token contained no recognizable user identification") from None
        user = _fetch_user(user_id, str(validated_token.get("sid", "")))
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
