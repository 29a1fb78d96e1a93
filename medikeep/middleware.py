"""Project-wide request handling that must happen before URL resolution or after the view."""

import base64
import hashlib
import logging
import re
from functools import lru_cache
from ipaddress import ip_address, ip_network

from django.conf import settings
from django.core.exceptions import DisallowedHost

API_PREFIX = "/api/"
security_log = logging.getLogger("medikeep.security")


class ApiHostMiddleware:
    """A Host header this server does not answer to (ALLOWED_HOSTS): under /api/ the answer
    is the API's JSON error (400) rather than Django's HTML page, and the log says which host
    came and which are allowed — the usual cause is a proxy or APP_PUBLIC_URL set to another
    name. Elsewhere Django's own 400 stays. First in MIDDLEWARE: the HTTPS redirect reads the
    host too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            try:
                request.get_host()
            except DisallowedHost:
                from medikeep.api.exceptions import json_error_view  # the API imports us

                security_log.warning(
                    "refused Host header %r on %s: this server answers to %s "
                    "(DJANGO_ALLOWED_HOSTS, or the host of APP_PUBLIC_URL)",
                    request.META.get("HTTP_X_FORWARDED_HOST") or request.META.get("HTTP_HOST"),
                    request.path_info,
                    ", ".join(settings.ALLOWED_HOSTS) or "no host",
                )
                return json_error_view(
                    400, "This server does not answer to the host name in the request."
                )(request)
        return self.get_response(request)


# Inline <script> elements (no src) of a page; their text is hashed for the docs pages.
_INLINE_SCRIPT = re.compile(
    rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL
)
# The API docs pages (Swagger UI, ReDoc): rendered by drf-spectacular from fixed templates, the
# only request input (lang, version) URL-encoded; their inline start-up scripts are allowed by
# hash, and ReDoc's search runs in a worker made from a blob: URL.
DOCS_PAGES = {"api-docs", "api-redoc"}


class ContentSecurityPolicyMiddleware:
    """Every HTML answer that sets no Content-Security-Policy of its own (the admin, the API
    docs, the portal join and password-reset pages) gets settings.CONTENT_SECURITY_POLICY:
    scripts, styles, images and connections from this server only, no frames, no plugins.
    Answers that set their own (files shown inline, files/streaming.py) keep theirs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        policy = settings.CONTENT_SECURITY_POLICY
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name in DOCS_PAGES and not response.streaming:
            hashes = " ".join(
                f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
                for body in _INLINE_SCRIPT.findall(response.content)
            )
            if hashes:
                policy = policy.replace("script-src 'self'", f"script-src 'self' {hashes}", 1)
            policy = f"{policy}; worker-src 'self' blob:"
        response["Content-Security-Policy"] = policy
        return response


class ApiTrailingSlashMiddleware:
    """API paths answer with and without a trailing slash, without a redirect.

    Every API route is declared without the slash; this strips one before resolution, so the
    rule lives here once instead of in each pattern. Addresses with a NUL character are
    refused here too (400), before anything reaches the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(API_PREFIX):
            if "\x00" in path or "%00" in request.META.get("QUERY_STRING", ""):
                # PostgreSQL stores no NUL character, so one in a path segment or parameter
                # could only end in a database error: it is malformed input. (Imported here:
                # the API package imports this module.)
                from medikeep.api.exceptions import json_error_view

                return json_error_view(400, "The address may not contain NUL characters.")(request)
            if len(path) > len(API_PREFIX) and path.endswith("/"):
                request.path_info = path.rstrip("/")
                request.path = request.path.rstrip("/")
        return self.get_response(request)


class ApiResponseHeadersMiddleware:
    """Headers every API answer gets: the X-RateLimit-* figures the throttle recorded on the
    request, and `Cache-Control: no-store` on anything but an anonymous read — answers to a
    signed-in user carry health data (errors too: they tell what exists), and sign-in answers
    carry tokens, so no browser or proxy cache may keep them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        info = getattr(request, "rate_limit_info", None)
        if info:
            response["X-RateLimit-Limit"] = str(info["limit"])
            response["X-RateLimit-Remaining"] = str(info["remaining"])
            response["X-RateLimit-Reset"] = str(info["reset"])
        if request.path_info.startswith(API_PREFIX) and (
            request.method not in ("GET", "HEAD")
            or response.cookies
            or getattr(getattr(request, "user", None), "is_authenticated", False)
        ):
            response["Cache-Control"] = "no-store"
        return response


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ip_network(item, strict=False) for item in proxies)


def client_ip(request) -> str:
    """The caller's address; X-Forwarded-For counts only when the peer is a trusted proxy."""
    peer = request.META.get("REMOTE_ADDR", "") or ""
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))

    def is_trusted(address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in trusted)

    if not trusted or not is_trusted(peer):
        return peer
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    # Walk from the nearest hop back; the first address that is not our proxy is the client.
    for address in reversed([p for p in forwarded if p]):
        if not is_trusted(address):
            return address
    return peer
