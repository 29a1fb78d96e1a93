"""Is a browser request coming from this server's own pages?

Browsers attach the `medapp_session` cookie to requests that any other site makes them send,
so an unsafe request authenticated by that cookie alone is trusted only when the browser says
where it comes from and that place is ours. Bearer tokens are never sent by a browser on its
own and need no such check.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from rest_framework.authentication import CSRFCheck
from rest_framework.exceptions import PermissionDenied

CROSS_SITE_REFUSED = (
    "Cross-site request refused: a request signed in with the browser session must come from "
    "this server's own pages."
)


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


@lru_cache(maxsize=8)
def _configured(trusted: tuple[str, ...], public_url: str) -> tuple[frozenset, tuple]:
    """Exact trusted origins, and (scheme, domain suffix) pairs for `https://*.example.org`."""
    exact, wildcards = set(), []
    for entry in (*trusted, public_url):
        origin = _origin_of(entry or "")
        if origin is None:
            continue
        scheme, host = origin.split("://", 1)
        if host.startswith("*."):
            wildcards.append((scheme, host[1:]))
        else:
            exact.add(origin)
    return frozenset(exact), tuple(wildcards)


def is_our_origin(request, origin: str) -> bool:
    origin = origin.lower()
    try:
        own = f"{request.scheme}://{request.get_host()}".lower()
    except DisallowedHost:
        own = None
    if origin == own:
        return True
    exact, wildcards = _configured(tuple(settings.CSRF_TRUSTED_ORIGINS), settings.APP_PUBLIC_URL)
    if origin in exact:
        return True
    scheme, _, host = origin.partition("://")
    return any(scheme == s and host.endswith(suffix) for s, suffix in wildcards)


def claimed_origin(request) -> str | None:
    """Where the browser says the request comes from: Origin, else the Referer's origin.
    "null" (sandboxed frames, some redirects) is kept as is: it is nobody's origin."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin:
        return origin.strip()
    referer = request.META.get("HTTP_REFERER")
    if referer:
        return _origin_of(referer) or "null"
    return None


def refuse_foreign_origin(request) -> None:
    """403 when the browser says the request comes from another site. Requests that say
    nothing pass: for endpoints that sign in (login, refresh) rather than act on a session."""
    if request.META.get("HTTP_SEC_FETCH_SITE", "").lower() == "cross-site":
        raise PermissionDenied(CROSS_SITE_REFUSED)
    origin = claimed_origin(request)
    if origin is not None and not is_our_origin(request, origin):
        raise PermissionDenied(CROSS_SITE_REFUSED)


def enforce_same_origin(request) -> None:
    """For unsafe requests authenticated by the session cookie: the browser must name our
    origin; a request that names none must carry Django's CSRF token instead."""
    refuse_foreign_origin(request)
    if claimed_origin(request) is None:
        check = CSRFCheck(lambda _request: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason is not None:
            raise PermissionDenied(CROSS_SITE_REFUSED)
