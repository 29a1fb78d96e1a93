"""The TOTP algorithm (RFC 6238, through pyotp) and what enrolment shows: the otpauth URI and
its QR code. Pure functions; what is stored and counted lives in services.py."""

from __future__ import annotations

import hmac
import time

import pyotp
import segno
from django.conf import settings

# Accepted clock drift: the code of the previous and of the next 30-second step also pass.
VALID_WINDOW = 1
CODE_DIGITS = 6


def new_secret() -> str:
    """A random base32 secret of 160 bits, as RFC 4226 recommends."""
    return pyotp.random_base32()


def otpauth_uri(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=settings.MFA_ISSUER)


def qr_code_data_uri(uri: str) -> str:
    """The URI as a QR code, an SVG data URI an <img> can show (no image library needed)."""
    return segno.make_qr(uri, error="m").svg_data_uri(scale=4, border=2)


def matching_step(secret: str, code: str, *, for_time: float | None = None) -> int | None:
    """The time step whose code `code` is, within the window around now; None if none.
    The newest matching step wins, so a code is never accepted for an older step than its own."""
    if len(code) != CODE_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(time.time() if for_time is None else for_time)
    for step in range(now_step + VALID_WINDOW, now_step - VALID_WINDOW - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
