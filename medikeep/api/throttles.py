"""Per-scope rate limits (settings.API_RATES), cache-backed so every worker shares the count.

One counter per client, scope and fixed window, incremented atomically (Redis INCR with the
default Redis cache): the cost of a request is one cache round trip whatever the rate, where
a list of timestamps grew with it. A fixed window admits at most twice the limit across a
window boundary; the contract's limits are budgets against abuse, not exact meters.
"""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from medikeep.middleware import client_ip

logger = logging.getLogger("medikeep.security")

# Scopes counted per client address rather than per account: they are reached before or
# without a login, so an address is all there is to count.
PER_ADDRESS_SCOPES = {"auth", "system"}

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """ "100/min" -> (100, 60): the first letter of the period counts."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip().lower()[0]]


def count_in_window(key: str, duration: int) -> int:
    """Counts one more hit under `key` for a window of `duration` seconds; returns the total,
    or 0 when the cache cannot be reached: limits then stop counting (logged) rather than
    every request failing — health answers 503 and says why."""
    try:
        if hasattr(cache, "count_hit"):  # Redis: one round trip (medikeep/cache.py)
            return cache.count_hit(key, duration + 1)
        try:
            return cache.incr(key)
        except ValueError:  # no counter yet (or it just expired)
            if cache.add(key, 1, timeout=duration + 1):
                return 1
            return cache.incr(key)
    except Exception as exc:
        _warn_cache_down(exc)
        return 0


_last_warning = [0.0]


def _warn_cache_down(exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= 60:  # once a minute per process, not once per request
        _last_warning[0] = now
        logger.warning("rate limits not counted: the cache is unreachable (%s)", type(exc).__name__)


class ScopedRateThrottle(BaseThrottle):
    """One throttle for the whole API; a view picks its scope with `throttle_scope`.
    Subclasses may override `scope_and_rate` (return None to let a request pass)."""

    def scope_and_rate(self, request, view) -> tuple[str, str] | None:
        scope = getattr(view, "throttle_scope", None) or "standard"
        return scope, settings.API_RATES[scope]

    def ident(self, request, scope: str) -> str:
        user = getattr(request, "user", None)
        if scope not in PER_ADDRESS_SCOPES and user is not None and user.is_authenticated:
            return f"user-{user.pk}"
        return f"ip-{client_ip(request)}"

    def allow_request(self, request, view):
        chosen = self.scope_and_rate(request, view)
        if chosen is None:
            return True
        scope, rate = chosen
        limit, duration = parse_rate(rate)
        now = time.time()
        window = int(now // duration)
        hits = count_in_window(f"throttle:{scope}:{self.ident(request, scope)}:{window}", duration)
        reset = (window + 1) * duration
        self.wait_seconds = max(1, math.ceil(reset - now))
        info = {
            "limit": limit,
            "remaining": max(0, limit - hits),
            "reset": reset,
            "window": duration,
        }
        # The Django request outlives the DRF wrapper; the middleware reads it from there.
        request._request.rate_limit_info = info
        request.rate_limit_info = info
        return hits <= limit

    def wait(self):
        return self.wait_seconds


def page_allowed(request, scope: str) -> bool:
    """The API's throttle for a plain Django page (the portal join and password-reset
    forms): counts the request against `scope` and says whether it may go on."""
    from types import SimpleNamespace

    from rest_framework.request import Request

    return ScopedRateThrottle().allow_request(
        Request(request), SimpleNamespace(throttle_scope=scope)
    )
