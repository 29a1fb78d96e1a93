"""Shared by the two-factor tests: a settable clock for the TOTP check and enrolment through
the real services. Codes are computed with pyotp, the same algorithm an authenticator runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pyotp
import pytest

from medikeep.accounts.mfa import services, totp

STEP = 30


@dataclass
class Clock:
    """Seconds since the epoch as the TOTP check sees them; start of a step, so that a test
    moves whole steps with `advance()`."""

    now: float = field(default_factory=lambda: float(int(time.time()) // STEP * STEP))

    def advance(self, steps: int = 1) -> None:
        self.now += steps * STEP


@pytest.fixture(name="clock")
def clock_fixture(monkeypatch) -> Clock:
    """Import `clock_fixture` into a test module to use the `clock` fixture."""
    current = Clock()
    monkeypatch.setattr(totp, "time", SimpleNamespace(time=lambda: current.now))
    return current


@dataclass
class Enrolled:
    secret: str
    recovery_codes: list[str]

    def code(self, clock: Clock) -> str:
        return pyotp.TOTP(self.secret).at(clock.now)


def enrol(user, clock: Clock) -> Enrolled:
    """Turns two-factor sign-in on for `user` with a code of the current step, then moves the
    clock one step on, so the next code is a fresh one."""
    secret = services.totp_setup(user=user).secret
    codes = services.totp_confirm(user=user, code=pyotp.TOTP(secret).at(clock.now))
    clock.advance()
    return Enrolled(secret=secret, recovery_codes=codes)
