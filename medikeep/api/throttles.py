"""Per-scope rate limits (settings.API_RATES), cache-backed so every worker shares the count."""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from medikeep.middleware import client_ip

# Scopes counted per client address rather than per account: they are reached before or
# without a login, so an address is all there is to count.
PER_ADDRESS_SCOPES = {"auth", "system"}


class ScopedRateThrottle(SimpleRateThrottle):
    """One throttle for the whole API; a view picks its scope with `throttle_scope`."""

    cache_format = "throttle:%(scope)s:%(ident)s"

    def __init__(self):  # rates are read per request so settings overrides apply at once
        pass

    def get_rate(self):
        return settings.API_RATES[self.scope]

    def get_ident(self, request):
        return client_ip(request)

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if self.scope not in PER_ADDRESS_SCOPES and user is not None and user.is_authenticated:
            ident = f"user-{user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", None) or "standard"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        allowed = super().allow_request(request, view)
        self._record(request, allowed)
        return allowed

    def _record(self, request, allowed: bool) -> None:
        history = getattr(self, "history", [])
        now = getattr(self, "now", self.timer())
        oldest = history[-1] if history else now
        info = {
            "limit": self.num_requests,
            "remaining": max(0, self.num_requests - len(history)),
            "reset": math.ceil(oldest + self.duration),
            "window": self.duration,
        }
        # The Django request outlives the DRF wrapper; the middleware reads it from there.
        request._request.rate_limit_info = info
        request.rate_limit_info = info

    def parse_rate(self, rate):
        count, period = rate.split("/")
        period = period.strip().lower()
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
        return int(count), seconds


def page_allowed(request, scope: str) -> bool:
    """The API's throttle for a plain Django page (the portal join and password-reset
    forms): counts the request against `scope` and says whether it may go on."""
    from types import SimpleNamespace

    from rest_framework.request import Request

    return ScopedRateThrottle().allow_request(
        Request(request), SimpleNamespace(throttle_scope=scope)
    )
