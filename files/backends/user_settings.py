"""A user's document back-end settings (Paperless-ngx, Papra): read, change, forget.

They live on the user's UserPreference. Tokens, user names and passwords are kept only in the
encrypted `paperless_secrets` / `papra_secrets` columns (medikeep/crypto.py) and never leave
this module except to the back-end clients (`credentials_for`). Answers show only whether a
secret is saved (`*_has_token`, `paperless_has_credentials`).

Rules for changes (PUT /paperless/settings, PUT /papra/settings):
- only the keys sent change; the checks run on the result of applying all of them, so the
  order of keys in one request does not matter;
- a secret sent empty, null or masked keeps the saved one (the web app sends
  `paperless_username`/`paperless_password` as "" on every first save, web-client-api §3);
  only DELETE /paperless/settings forgets secrets;
- a saved secret is sent only to the server it was saved for: changing the URL to another
  server (scheme, host or port) needs the secret again, or the change is refused;
- `default_storage_backend` may name a back-end only while that back-end is enabled and
  complete (URL and token or credentials); switching a back-end
  off, or forgetting it, moves a default that named it back to local storage.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import transaction

from files.backends import saved_secrets
from medikeep.accounts.models import UserPreference
from medikeep.api.exceptions import FieldValidationError
from medikeep.crypto import DecryptionError, decrypt_json, encrypt_json

PAPERLESS = "paperless"
PAPRA = "papra"
LOCAL = "local"
STORAGE_CHOICES = (LOCAL, PAPERLESS, PAPRA)

# Secret keys per back-end, as stored inside the encrypted JSON.
SECRET_KEYS = {PAPERLESS: ("api_token", "username", "password"), PAPRA: ("api_token",)}

# Characters the web app and other clients use to show a hidden value ("••••", "****",
# "abc...xyz"). A value made only of them, or containing "...", is never stored.
_MASK_CHARACTERS = set("*•●·x")


def is_masked(value: str) -> bool:
    text = value.strip()
    return "..." in text or "…" in text or (len(text) >= 3 and set(text) <= _MASK_CHARACTERS)


def _secrets_of(preference: UserPreference, name: str) -> dict[str, str]:
    """The saved secrets, or {} when none are saved or they cannot be decrypted any more (the
    answer then says no token is saved, and the user enters it again)."""
    token = getattr(preference, f"{name}_secrets", "") or ""
    if not token:
        return {}
    try:
        value = decrypt_json(token)
    except DecryptionError:
        return {}
    return (
        {k: v for k, v in value.items() if isinstance(v, str) and v}
        if isinstance(value, dict)
        else {}
    )


def _store_secrets(preference: UserPreference, name: str, secrets: dict[str, str]) -> None:
    kept = {key: secrets[key] for key in SECRET_KEYS[name] if secrets.get(key)}
    setattr(preference, f"{name}_secrets", encrypt_json(kept) if kept else "")


def credentials_for(user, backend: str) -> dict[str, Any]:
    """The saved secrets of `backend` for the clients: {"api_token", "username", "password"}
    (only the ones saved). BackendNotConfigured when they cannot be decrypted."""
    from files.backends import preference_of

    preference = preference_of(user)
    return saved_secrets(preference, backend) if preference is not None else {}


def _complete(preference: UserPreference, name: str, secrets: dict[str, str]) -> bool:
    if not getattr(preference, f"{name}_url", ""):
        return False
    if name == PAPERLESS:
        return bool(
            secrets.get("api_token") or (secrets.get("username") and secrets.get("password"))
        )
    # Papra's organisation may be unset: the client uses the only one the key reaches.
    return bool(secrets.get("api_token"))


def public_settings(preference: UserPreference) -> dict[str, Any]:
    """Every back-end key the web app reads; secrets only as "is one saved"."""
    paperless = _secrets_of(preference, PAPERLESS)
    papra = _secrets_of(preference, PAPRA)
    return {
        "paperless_enabled": preference.paperless_enabled,
        "paperless_url": preference.paperless_url,
        "paperless_has_token": bool(paperless.get("api_token")),
        "paperless_has_credentials": bool(paperless.get("username") and paperless.get("password")),
        "paperless_auto_sync": preference.paperless_auto_sync,
        "paperless_sync_tags": preference.paperless_sync_tags,
        "default_storage_backend": preference.default_storage_backend,
        "papra_enabled": preference.papra_enabled,
        "papra_url": preference.papra_url,
        "papra_has_token": bool(papra.get("api_token")),
        "papra_organization_id": preference.papra_organization_id,
    }


# --- URLs ----------------------------------------------------------------------------------


def clean_server_url(value: str | None, field: str, label: str) -> str:
    """An http(s) URL of the server, without credentials, query or fragment, without the
    trailing slash; "" clears it. Link-local addresses (cloud metadata services) are refused:
    the server would call them with the user's token."""
    text = (value or "").strip()
    if not text:
        return ""
    message = f"Enter the address of your {label} server, starting with http:// or https://."
    if any(ch.isspace() for ch in text) or len(text) > 500:
        raise FieldValidationError(field, message)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise FieldValidationError(field, message) from exc
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise FieldValidationError(field, message)
    if parts.username is not None or parts.password is not None:
        raise FieldValidationError(
            field, f"The {label} address must not contain a user name or password; use the token."
        )
    if port == 0:
        raise FieldValidationError(field, f"The {label} address has an invalid port.")
    if parts.query or parts.fragment:
        raise FieldValidationError(field, f"The {label} address must not have a query or fragment.")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        address = None
    if address is not None and (
        address.is_link_local or address.is_multicast or address.is_unspecified
    ):
        raise FieldValidationError(field, f"The {label} address cannot be a link-local address.")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _origin(url: str) -> tuple[str, str, int | None] | None:
    if not url:
        return None
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def same_server(saved_url: str, new_url: str) -> bool:
    return _origin(saved_url) == _origin(new_url)


def take_secret(value) -> str | None:
    """A new secret, or None for "keep the saved one" (empty, null or masked)."""
    if not isinstance(value, str) or not value.strip() or is_masked(value):
        return None
    return value.strip()


# --- changes -------------------------------------------------------------------------------


def _locked_preference(user) -> UserPreference:
    UserPreference.objects.get_or_create(user=user)
    return UserPreference.objects.select_for_update().get(user=user)


def _merge_secrets(
    preference: UserPreference, name: str, sent: dict[str, str | None], url_field: str, new_url
) -> dict[str, str]:
    """Saved secrets with the sent ones on top; refuses moving saved ones to another server."""
    saved = _secrets_of(preference, name)
    fresh = {key: value for key, value in sent.items() if value is not None}
    merged = {**saved, **fresh}
    if (
        new_url is not None
        and saved
        and not fresh
        and not same_server(getattr(preference, url_field), new_url)
    ):
        label = "Paperless-ngx" if name == PAPERLESS else "Papra"
        what = "API token (or user name and password)" if name == PAPERLESS else "API token"
        raise FieldValidationError(
            url_field,
            f"The saved {label} {what} is only sent to the server it was saved for; enter it "
            "again for the new address.",
        )
    return merged


def _check_default(preference: UserPreference, sent_default: str | None, secrets: dict) -> None:
    """The default back-end must be usable; one switched off falls back to local."""
    for name in (PAPERLESS, PAPRA):
        enabled = getattr(preference, f"{name}_enabled")
        usable = enabled and _complete(preference, name, secrets[name])
        if preference.default_storage_backend != name or usable:
            continue
        if sent_default == name:
            label = "Paperless-ngx" if name == PAPERLESS else "Papra"
            needs = (
                "its URL and an API token or user name and password"
                if name == PAPERLESS
                else "its URL and an API key"
            )
            raise FieldValidationError(
                "default_storage_backend",
                f"{label} can be the default storage only while it is enabled with {needs}.",
            )
        preference.default_storage_backend = LOCAL


@transaction.atomic
def update_paperless_settings(*, user, changes: dict[str, Any]) -> UserPreference:
    """Apply the sent keys (already type-checked by the view's serializer)."""
    preference = _locked_preference(user)
    new_url = None
    if "paperless_url" in changes:
        new_url = clean_server_url(changes["paperless_url"], "paperless_url", "Paperless-ngx")
    secrets = _merge_secrets(
        preference,
        PAPERLESS,
        {
            "api_token": take_secret(changes.get("paperless_api_token")),
            "username": take_secret(changes.get("paperless_username")),
            "password": take_secret(changes.get("paperless_password")),
        },
        "paperless_url",
        new_url,
    )
    if new_url is not None:
        preference.paperless_url = new_url
    for key in ("paperless_enabled", "paperless_auto_sync", "paperless_sync_tags"):
        if key in changes:
            setattr(preference, key, changes[key])
    if "default_storage_backend" in changes:
        preference.default_storage_backend = changes["default_storage_backend"]
    if preference.paperless_enabled and ("paperless_enabled" in changes or new_url is not None):
        if not preference.paperless_url:
            raise FieldValidationError(
                "paperless_url", "Enter the Paperless-ngx address before enabling it."
            )
        if not _complete(preference, PAPERLESS, secrets):
            raise FieldValidationError(
                "paperless_api_token",
                "Enter an API token, or a user name and password, before enabling Paperless-ngx.",
            )
    _check_default(
        preference,
        changes.get("default_storage_backend"),
        {PAPERLESS: secrets, PAPRA: _secrets_of(preference, PAPRA)},
    )
    _store_secrets(preference, PAPERLESS, secrets)
    preference.save()
    return preference


@transaction.atomic
def update_papra_settings(*, user, changes: dict[str, Any]) -> UserPreference:
    preference = _locked_preference(user)
    new_url = None
    if "papra_url" in changes:
        new_url = clean_server_url(changes["papra_url"], "papra_url", "Papra")
    secrets = _merge_secrets(
        preference,
        PAPRA,
        {"api_token": take_secret(changes.get("papra_api_token"))},
        "papra_url",
        new_url,
    )
    if new_url is not None:
        preference.papra_url = new_url
    if "papra_organization_id" in changes:
        preference.papra_organization_id = (changes["papra_organization_id"] or "").strip() or None
    if "papra_enabled" in changes:
        preference.papra_enabled = changes["papra_enabled"]
    if "default_storage_backend" in changes:
        preference.default_storage_backend = changes["default_storage_backend"]
    if preference.papra_enabled and ("papra_enabled" in changes or new_url is not None):
        if not preference.papra_url:
            raise FieldValidationError("papra_url", "Enter the Papra address before enabling it.")
        if not secrets.get("api_token"):
            raise FieldValidationError(
                "papra_api_token", "Enter a Papra API key before enabling Papra."
            )
    _check_default(
        preference,
        changes.get("default_storage_backend"),
        {PAPERLESS: _secrets_of(preference, PAPERLESS), PAPRA: secrets},
    )
    _store_secrets(preference, PAPRA, secrets)
    preference.save()
    return preference


@transaction.atomic
def forget_paperless_settings(*, user) -> UserPreference:
    """DELETE /paperless/settings: URL and secrets forgotten, Paperless switched off (files
    already stored there keep their document ids; they open again once it is set up)."""
    preference = _locked_preference(user)
    preference.paperless_enabled = False
    preference.paperless_url = ""
    preference.paperless_secrets = ""
    if preference.default_storage_backend == PAPERLESS:
        preference.default_storage_backend = LOCAL
    preference.save()
    return preference


def draft_preference(user, name: str, *, url: str, secrets: dict[str, str], organization_id=None):
    """An unsaved preference holding the given URL and secrets, enabled, for trying a
    connection before saving it (the registry builds clients from preferences)."""
    preference = UserPreference(user=user)
    setattr(preference, f"{name}_enabled", True)
    setattr(preference, f"{name}_url", url)
    _store_secrets(preference, name, secrets)
    if name == PAPRA:
        preference.papra_organization_id = organization_id
    return preference


def connection_secrets(
    user, name: str, *, url: str | None, sent: dict[str, str | None]
) -> tuple[str, dict[str, str], UserPreference | None]:
    """(URL, secrets) to try: what was sent, completed from the saved settings. The saved
    secrets are used only with the saved server's address (never sent to another server)."""
    from files.backends import preference_of

    preference = preference_of(user)
    url_field = f"{name}_url"
    label = "Paperless-ngx" if name == PAPERLESS else "Papra"
    saved_url = getattr(preference, url_field, "") if preference is not None else ""
    target = clean_server_url(url, url_field, label) if url else saved_url
    if not target:
        raise FieldValidationError(url_field, f"Enter the address of your {label} server.")
    fresh = {key: value for key, value in sent.items() if value is not None}
    if fresh.get("api_token"):
        return target, {"api_token": fresh["api_token"]}, preference
    saved = saved_secrets(preference, name) if preference is not None else {}
    if saved and same_server(saved_url, target):
        if fresh:
            # A user name or password sent: try those (a saved token would win otherwise),
            # the saved other half completing them.
            pair = {key: fresh.get(key) or saved.get(key) for key in ("username", "password")}
            return target, {k: v for k, v in pair.items() if v}, preference
        return target, saved, preference
    if fresh:
        return target, fresh, preference
    if saved:
        raise FieldValidationError(
            f"{name}_api_token",
            f"The saved {label} token is only sent to the server it was saved for; enter it "
            "to try another address.",
        )
    return target, saved, preference
