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
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework.throttling import BaseThrottle

from medikeep import env
from medikeep.middleware import client_ip

logger = logging.getLogger("medikeep.security")

# Scopes counted per client address rather than per account: they are reached before or
# without a login, so an address is all there is to count.
PER_ADDRESS_SCOPES = {"auth", "system"}


@lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """ "100/min" -> (100, 60); the grammar is env.parse_rate's, checked at start-up."""
    return env.parse_rate(rate)


# --- the shared cache, and what happens when it cannot be reached ---------------------------
#
# Degraded mode: when the shared cache (Redis) fails, counters and sign-in back-offs are kept
# in this process's memory instead, so limits still hold per process (a few web processes
# multiply them) and nothing answers 500. The shared cache is tried again after
# RETRY_SHARED_AFTER seconds; a warning is logged once a minute while it is down, and
# /system/health answers 503 saying so.

RETRY_SHARED_AFTER = 5.0
_local = LocMemCache("medikeep-degraded-counters", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
_state = {"down_until": 0.0, "last_warning": 0.0}


@receiver(setting_changed)
def _cache_replaced(*, setting, **kwargs) -> None:
    """A new cache configuration (tests switch it) starts from the shared cache again."""
    if setting == "CACHES":
        _state.update(down_until=0.0, last_warning=0.0)
        _local.clear()


def _shared_usable() -> bool:
    return time.monotonic() >= _state["down_until"]


def _shared_failed(exc: Exception) -> None:
    now = time.monotonic()
    _state["down_until"] = now + RETRY_SHARED_AFTER
    if now - _state["last_warning"] >= 60:  # once a minute per process, not once per request
        _state["last_warning"] = now
        logger.warning(
            "degraded mode: the shared cache is unreachable (%s); rate limits and sign-in "
            "back-offs are counted per process until it answers again",
            type(exc).__name__,
        )


def _count(store, key: str, duration: int) -> int:
    if hasattr(store, "count_hit"):  # Redis: one round trip (medikeep/cache.py)
        return store.count_hit(key, duration + 1)
    try:
        return store.incr(key)
    except ValueError:  # no counter yet (or it just expired)
        if store.add(key, 1, timeout=duration + 1):
            return 1
        return store.incr(key)


def count_in_window(key: str, duration: int) -> int:
    """Counts one more hit under `key` for a window of `duration` seconds; returns the total
    (from this process's own count while the shared cache is unreachable)."""
    if _shared_usable():
        try:
            return _count(cache, key, duration)
        except Exception as exc:
            _shared_failed(exc)
    return _count(_local, key, duration)


def shared_get(key: str):
    if _shared_usable():
        try:
            return cache.get(key)
        except Exception as exc:
            _shared_failed(exc)
    return _local.get(key)


def shared_set(key: str, value, timeout: int) -> None:
    # Kept locally as well: should the cache fail on the next read, this process still knows.
    _local.set(key, value, timeout=timeout)
    if _shared_usable():
        try:
            cache.set(key, value, timeout=timeout)
        except Exception as exc:
            _shared_failed(exc)


def shared_delete_many(keys: list[str]) -> None:
    _local.delete_many(keys)
    if _shared_usable():
        try:
            cache.delete_many(keys)
        except Exception as exc:
            _shared_failed(exc)


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
