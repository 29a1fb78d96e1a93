"""Two-factor sign-in: enrolment, recovery codes, the login challenge, turning it off.

Rules kept here, for the API and the Django admin alike:
- a TOTP code is accepted once: the device remembers the newest accepted time step and
  refuses a code of that step or an older one (conditional UPDATE, so two requests racing
  with the same code cannot both pass);
- a recovery code is accepted once (conditional UPDATE of its `used_at`);
- wrong codes are counted per account in the database; after MFA_LOCK_AFTER in a row, codes
  are refused (not even checked) for a back-off that doubles like the password lock-out;
- a login challenge is stored as a digest, expires after MFA_LOGIN_TOKEN_SECONDS, ends after
  a few wrong codes and is consumed by a conditional DELETE.
Secrets and codes never reach a log line: only user ids and outcomes do.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import Throttled

from medikeep import crypto
from medikeep.accounts.mfa import totp
from medikeep.accounts.mfa.models import MFALoginChallenge, RecoveryCode, TOTPDevice
from medikeep.accounts.mfa.signals import mfa_changed
from medikeep.accounts.models import User
from medikeep.api.exceptions import BusinessRuleError, ConflictError, UnauthorizedError

security_log = logging.getLogger("medikeep.security")

RECOVERY_CODE_COUNT = 10
# Crockford's base32 alphabet (no i, l, o, u): 12 characters carry 60 random bits.
_RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_LENGTH = 12
# Wrong codes one challenge takes before the password has to be given again.
CHALLENGE_MAX_ATTEMPTS = 5
METHODS = ["totp", "recovery_code"]

WRONG_CODE = "The code is not right, or it was already used."
WRONG_PASSWORD = "Current password is incorrect."
CHALLENGE_GONE = "This sign-in step expired or was already used. Sign in again with your password."


class SecondFactorLocked(Throttled):
    default_detail = "Too many wrong codes for this account."


@dataclass(frozen=True)
class MFAStatus:
    enabled: bool
    confirmed_at: datetime | None
    recovery_codes_left: int
    setup_pending: bool


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_code: str


@dataclass(frozen=True)
class LoginChallenge:
    token: str
    expires_in: int

    def body(self) -> dict:
        """What password sign-in answers instead of tokens."""
        return {
            "mfa_required": True,
            "mfa_token": self.token,
            "methods": list(METHODS),
            "expires_in": self.expires_in,
        }


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_recovery_code(code: str) -> str:
    # People type codes with or without the dashes, in any case, and mix up 0/o and 1/i/l.
    text = "".join(code.split()).replace("-", "").lower()
    return text.translate(str.maketrans({"o": "0", "i": "1", "l": "1"}))


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def _confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def mfa_enabled(user: User) -> bool:
    """Whether password sign-in of this user needs a second factor."""
    if not getattr(user, "pk", None):
        return False
    return TOTPDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def mfa_status(user: User) -> MFAStatus:
    device = TOTPDevice.objects.filter(user=user).first()
    confirmed = device is not None and device.confirmed_at is not None
    left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() if confirmed else 0
    return MFAStatus(
        enabled=confirmed,
        confirmed_at=device.confirmed_at if confirmed else None,
        recovery_codes_left=left,
        setup_pending=device is not None and not confirmed,
    )


def _announce(*, user: User, actor, action: str, ip_address: str | None) -> None:
    mfa_changed.send(sender=User, user=user, actor=actor, action=action, ip_address=ip_address)


# --- counting wrong codes -------------------------------------------------------------------


def _seconds_locked(device: TOTPDevice) -> int:
    if device.locked_until is None:
        return 0
    return max(0, math.ceil((device.locked_until - timezone.now()).total_seconds()))


def _refuse_if_locked(device: TOTPDevice) -> None:
    wait = _seconds_locked(device)
    if wait:
        raise SecondFactorLocked(wait)


def _record_failure(device: TOTPDevice) -> None:
    TOTPDevice.objects.filter(pk=device.pk).update(failed_attempts=F("failed_attempts") + 1)
    failures = TOTPDevice.objects.filter(pk=device.pk).values_list("failed_attempts", flat=True)
    over = (failures.first() or 0) - settings.MFA_LOCK_AFTER
    if over < 0:
        return
    backoff = min(settings.LOGIN_LOCK_SECONDS * 2 ** min(over, 20), settings.LOGIN_LOCK_MAX_SECONDS)
    TOTPDevice.objects.filter(pk=device.pk).update(
        locked_until=timezone.now() + timedelta(seconds=backoff)
    )
    security_log.warning(
        "second factor: user=%s locked for %s s after repeated wrong codes", device.user_id, backoff
    )


def _record_success(device: TOTPDevice) -> None:
    if device.failed_attempts or device.locked_until:
        TOTPDevice.objects.filter(pk=device.pk).update(failed_attempts=0, locked_until=None)


# --- checking a code ------------------------------------------------------------------------


def _secret_of(device: TOTPDevice) -> str | None:
    try:
        return crypto.decrypt_json(device.encrypted_secret)
    except crypto.DecryptionError:
        # The encryption key changed without the old one kept: the user needs a recovery code
        # or an admin reset. Said in the log without the value.
        security_log.error("second factor: TOTP secret of user=%s unreadable", device.user_id)
        return None


def _accept_totp(device: TOTPDevice, code: str) -> bool:
    secret = _secret_of(device)
    step = totp.matching_step(secret, code) if secret else None
    if step is None:
        return False
    # Single use per time step: only a step newer than the last accepted one passes.
    newer = Q(last_used_step__isnull=True) | Q(last_used_step__lt=step)
    return TOTPDevice.objects.filter(newer, pk=device.pk).update(last_used_step=step) == 1


def _accept_recovery_code(user_id: int, code: str) -> bool:
    digest = _digest(normalise_recovery_code(code))
    unused = RecoveryCode.objects.filter(user_id=user_id, code_digest=digest, used_at__isnull=True)
    return unused.update(used_at=timezone.now()) == 1


def _check_code(device: TOTPDevice, code: str, *, allow_recovery: bool) -> str | None:
    """The method that accepted `code` ("totp" or "recovery_code"), or None. Counts the
    outcome toward the account's limit; refuses (429) while the account is locked."""
    _refuse_if_locked(device)
    code = (code or "").strip()
    compact = "".join(code.split())
    method = None
    if compact.isdigit() and len(compact) == totp.CODE_DIGITS:
        method = "totp" if _accept_totp(device, compact) else None
    elif allow_recovery and code:
        method = "recovery_code" if _accept_recovery_code(device.user_id, code) else None
    if method is None:
        _record_failure(device)
        security_log.warning("second factor: wrong code for user=%s", device.user_id)
        return None
    _record_success(device)
    return method


def second_factor_check(*, user: User, code: str, allow_recovery: bool = True) -> str | None:
    """For a sign-in form (the Django admin): the accepting method, or None when the code is
    wrong or the user has no confirmed device. Raises SecondFactorLocked while locked."""
    device = _confirmed_device(user)
    if device is None:
        return None
    return _check_code(device, code, allow_recovery=allow_recovery)


def _require_password(user: User, password: str) -> None:
    if not user.has_usable_password() or not user.check_password(password):
        security_log.warning("second factor change with a wrong password: user=%s", user.pk)
        raise UnauthorizedError(WRONG_PASSWORD)


def _replace_recovery_codes(user: User) -> list[str]:
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_digest=_digest(normalise_recovery_code(code)))
        for code in codes
    )
    return codes


# --- enrolment and changes ------------------------------------------------------------------


def totp_setup(*, user: User) -> Enrolment:
    """Starts (or restarts) an enrolment with a new secret; the secret is shown only here.
    409 when two-factor sign-in is already on (turn it off first)."""
    if not user.has_usable_password():
        raise BusinessRuleError(
            "This account signs in through single sign-on; its second factor is set up at the "
            "identity provider."
        )
    if mfa_enabled(user):
        raise ConflictError("Two-factor sign-in is already on. Turn it off first to re-enrol.")
    secret = totp.new_secret()
    TOTPDevice.objects.update_or_create(
        user=user,
        defaults={
            "encrypted_secret": crypto.encrypt_json(secret),
            "confirmed_at": None,
            "last_used_step": None,
            "failed_attempts": 0,
            "locked_until": None,
        },
    )
    uri = totp.otpauth_uri(secret, user.username)
    security_log.info("second factor: enrolment started: user=%s", user.pk)
    return Enrolment(secret=secret, otpauth_uri=uri, qr_code=totp.qr_code_data_uri(uri))


def totp_confirm(*, user: User, code: str, ip_address: str | None = None) -> list[str]:
    """Turns two-factor sign-in on with a first code from the app; returns the ten recovery
    codes, which are never shown again."""
    device = TOTPDevice.objects.filter(user=user).first()
    if device is None:
        raise BusinessRuleError("Start with the TOTP setup: there is no enrolment to confirm.")
    if device.confirmed_at is not None:
        raise ConflictError("Two-factor sign-in is already on.")
    if _check_code(device, code, allow_recovery=False) is None:
        raise BusinessRuleError(
            "The code does not match. Scan the QR code again and check the device's clock."
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed_at=timezone.now())
        codes = _replace_recovery_codes(user)
        _announce(user=user, actor=user, action="mfa_enabled", ip_address=ip_address)
    security_log.info("second factor: turned on: user=%s", user.pk)
    return codes


def _confirmed_or_refuse(user: User) -> TOTPDevice:
    device = _confirmed_device(user)
    if device is None:
        raise BusinessRuleError("Two-factor sign-in is not on for this account.")
    return device


def recovery_codes_renew(
    *, user: User, password: str, code: str, ip_address: str | None = None
) -> list[str]:
    """Ten new recovery codes (the old ones stop working); needs the password and a code from
    the authenticator app."""
    device = _confirmed_or_refuse(user)
    _require_password(user, password)
    if _check_code(device, code, allow_recovery=False) is None:
        raise UnauthorizedError(WRONG_CODE)
    with transaction.atomic():
        codes = _replace_recovery_codes(user)
        _announce(user=user, actor=user, action="mfa_recovery_codes_renewed", ip_address=ip_address)
    security_log.info("second factor: recovery codes renewed: user=%s", user.pk)
    return codes


def _remove_everything(user: User) -> bool:
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    MFALoginChallenge.objects.filter(user=user).delete()
    return bool(deleted)


def mfa_disable(*, user: User, password: str, code: str, ip_address: str | None = None) -> None:
    """Turns two-factor sign-in off; needs the password and a code (TOTP or recovery)."""
    device = _confirmed_or_refuse(user)
    _require_password(user, password)
    if _check_code(device, code, allow_recovery=True) is None:
        raise UnauthorizedError(WRONG_CODE)
    with transaction.atomic():
        _remove_everything(user)
        _announce(user=user, actor=user, action="mfa_disabled", ip_address=ip_address)
    security_log.info("second factor: turned off: user=%s", user.pk)


def mfa_reset(*, user: User, actor, ip_address: str | None = None) -> bool:
    """An admin turns a user's two-factor sign-in off (a lost phone and no recovery codes).
    Logged in the activity log; returns whether there was anything to reset."""
    with transaction.atomic():
        had_any = _remove_everything(user)
        if had_any:
            _announce(user=user, actor=actor, action="mfa_reset", ip_address=ip_address)
    security_log.info(
        "second factor: reset by admin=%s for user=%s (%s)",
        getattr(actor, "pk", None),
        user.pk,
        "removed" if had_any else "nothing to remove",
    )
    return had_any


# --- the login challenge --------------------------------------------------------------------


def login_challenge_start(*, user: User) -> LoginChallenge:
    """A password sign-in that needs its second factor: a token for `/auth/mfa/verify`."""
    now = timezone.now()
    MFALoginChallenge.objects.filter(expires_at__lte=now).delete()  # the cleanup is on use
    token = secrets.token_urlsafe(32)
    seconds = settings.MFA_LOGIN_TOKEN_SECONDS
    MFALoginChallenge.objects.create(
        user=user,
        token_digest=_digest(token),
        created_at=now,
        expires_at=now + timedelta(seconds=seconds),
    )
    return LoginChallenge(token=token, expires_in=seconds)


def login_challenge_verify(*, token: str, code: str) -> tuple[User, str]:
    """The user whose sign-in the token and code finish, and the method used. 401 for an
    unknown, expired or used token and for a wrong code (counted); 429 while locked."""
    challenge = (
        MFALoginChallenge.objects.select_related("user")
        .filter(token_digest=_digest(token or ""), expires_at__gt=timezone.now())
        .first()
    )
    if challenge is None:
        raise UnauthorizedError(CHALLENGE_GONE)
    user = challenge.user
    device = _confirmed_device(user)
    if device is None or not user.is_active:
        # Reset or deactivated since the password was given: start over.
        MFALoginChallenge.objects.filter(pk=challenge.pk).delete()
        raise UnauthorizedError(CHALLENGE_GONE)
    method = _check_code(device, code, allow_recovery=True)
    if method is None:
        MFALoginChallenge.objects.filter(pk=challenge.pk).update(
            failed_attempts=F("failed_attempts") + 1
        )
        MFALoginChallenge.objects.filter(
            pk=challenge.pk, failed_attempts__gte=CHALLENGE_MAX_ATTEMPTS
        ).delete()
        raise UnauthorizedError(WRONG_CODE)
    # Single use: only the request that deletes the row finishes the sign-in.
    deleted, _ = MFALoginChallenge.objects.filter(pk=challenge.pk).delete()
    if not deleted:
        raise UnauthorizedError(CHALLENGE_GONE)
    security_log.info("second factor: sign-in completed with %s: user=%s", method, user.pk)
    return user, method
