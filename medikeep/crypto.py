"""Encryption of secrets users give us (notification channel settings), at rest in the database.

Values are JSON, encrypted as Fernet tokens (AES-128-CBC + HMAC-SHA256, with a timestamp).
Keys come from the setting FIELD_ENCRYPTION_KEY (env, comma-separated Fernet keys): the first
encrypts, every key decrypts, so an operator rotates by putting a new key first and keeping
the old ones until every row is re-encrypted (`rotate`). Without it, one key is derived from
SECRET_KEY; that derived key also stays a decryption key once FIELD_ENCRYPTION_KEY is set, so
setting it later does not lose what was stored before.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Changing this string changes the derived key: every stored value would become unreadable.
_DERIVATION_CONTEXT = b"medikeep field encryption v1"


class DecryptionError(Exception):
    """The value was not encrypted by any key we hold (a key changed) or is damaged."""


def derived_key(secret: str) -> bytes:
    """The Fernet key derived from the secret key (HKDF-SHA256, fixed context)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DERIVATION_CONTEXT).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(raw)


def _configured_keys() -> tuple[str, ...]:
    keys = getattr(settings, "FIELD_ENCRYPTION_KEY", None) or ()
    if isinstance(keys, str):
        keys = keys.split(",")
    return tuple(key.strip() for key in keys if key and key.strip())


@lru_cache(maxsize=4)
def _keyring_for(keys: tuple[str, ...], secret: str) -> tuple[MultiFernet, Fernet]:
    """(all keys, the encrypting key); cached per configuration, so tests may change it."""
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError) as exc:
            # Never echo the key itself: it would land in a log.
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEY: key {position} is not a Fernet key (32 bytes, url-safe "
                "base64; make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)."
            ) from exc
    fernets.append(Fernet(derived_key(secret)))
    return MultiFernet(fernets), fernets[0]


def _fernet() -> MultiFernet:
    return _keyring_for(_configured_keys(), settings.SECRET_KEY)[0]


def encrypt_json(value) -> str:
    """`value` (anything JSON can hold) as a token encrypted with the current key."""
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return _fernet().encrypt(data).decode("ascii")


def decrypt_json(token: str):
    """The value of a token from encrypt_json; DecryptionError if no key opens it."""
    if not isinstance(token, str) or not token:
        raise DecryptionError("No encrypted value.")
    try:
        data = _fernet().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionError(
            "The stored value cannot be decrypted with the configured keys."
        ) from exc
    try:
        return json.loads(data)
    except ValueError as exc:
        raise DecryptionError("The stored value is damaged.") from exc


def needs_rotation(token: str) -> bool:
    """Whether the current (first) key did not encrypt this token."""
    first = _keyring_for(_configured_keys(), settings.SECRET_KEY)[1]
    try:
        first.decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        return True
    return False


def rotate(token: str) -> str:
    """The same value re-encrypted with the current key; DecryptionError if no key opens it."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionError(
            "The stored value cannot be decrypted with the configured keys."
        ) from exc
