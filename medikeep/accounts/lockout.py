"""Failed sign-ins counted per account, across every client address.

The auth rate limit counts per address, so an attacker with many addresses could try ten
passwords from each. Here the account's name is counted instead: after LOGIN_LOCK_AFTER
failures in a row, sign-in to that name is refused for a back-off that doubles with each
further failure, up to LOGIN_LOCK_MAX_SECONDS. Attempts refused during a back-off are not
failures (the password is not even checked), so nobody can stretch a lock-out beyond one
back-off window by hammering it; a successful sign-in clears the count. Names that do not
exist are counted the same way, so the answer tells nothing about which names exist.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings

from medikeep.api.throttles import count_in_window, shared_delete_many, shared_get, shared_set


def _keys(username: str) -> tuple[str, str]:
    # Hashed: cache backends limit key characters, and user names are free text.
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{digest}", f"login-locked-until:{digest}"


def seconds_locked(username: str) -> int:
    """How long sign-in to this account is still refused (0: not locked). While the shared
    cache is unreachable, failures and back-offs are counted in this process only
    (medikeep/api/throttles.py, degraded mode): sign-in keeps working."""
    locked_until = shared_get(_keys(username)[1])
    if locked_until is None:
        return 0
    return max(0, math.ceil(locked_until - time.time()))


def record_failure(username: str) -> int:
    """Counts a failed sign-in; returns the back-off it starts (0 while under the limit)."""
    failures_key, lock_key = _keys(username)
    failures = count_in_window(failures_key, settings.LOGIN_FAILURE_MEMORY_SECONDS)
    over = failures - settings.LOGIN_LOCK_AFTER
    if over < 0:
        return 0
    backoff = min(settings.LOGIN_LOCK_SECONDS * 2 ** min(over, 20), settings.LOGIN_LOCK_MAX_SECONDS)
    shared_set(lock_key, time.time() + backoff, timeout=backoff)
    return backoff


def record_success(username: str) -> None:
    shared_delete_many(list(_keys(username)))
