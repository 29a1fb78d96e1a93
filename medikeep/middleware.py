"""Project-wide request handling that must happen before URL resolution or after the view."""

from functools import lru_cache
from ipaddress import ip_address, ip_network

from django.conf import settings

API_PREFIX = "/api/"


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
