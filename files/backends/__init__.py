"""Outside document systems (Paperless-ngx, Papra) that hold a file's bytes instead of our storage.

This module is the one interface every back-end shares:

- the errors (API exceptions, so a view or service just raises them): not configured → 400,
  unreachable / refused / 5xx → 502, too slow → 504, token refused → 502 (never 401: the web
  app treats a 401 as its own sign-out), document gone → 404;
- `RemoteUpload` (what an upload gave back: a task to poll, or the document at once) and
  `RemoteContent` (a document's bytes as a stream);
- `DocumentBackendClient`, the protocol a back-end's client implements;
- the registry `backend_for(name, user)` that builds the client from the user's saved settings;
- the HTTP helpers (`request_timeout`, `translate_errors`, `raise_for_status`) so each client
  turns `requests` failures into the same errors with the same messages.

Secrets: a client holds the user's token only in its session headers. No message built here
contains a token, a password or a URL with credentials; reasons name the kind of failure.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import requests
from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework import status

from medikeep.api.exceptions import ApiError
from medikeep.crypto import DecryptionError, decrypt_json

if TYPE_CHECKING:
    from medikeep.accounts.models import UserPreference

logger = logging.getLogger("medikeep.files.backends")

# Names as stored in EntityFile.storage_backend, with the label people read.
BACKEND_LABELS = {"paperless": "Paperless-ngx", "papra": "Papra"}

# name -> dotted path of `client_from_preference(preference) -> DocumentBackendClient`.
# Each back-end module defines that function; it raises BackendNotConfigured when the
# preference lacks what it needs (URL, token). Imported lazily: the modules import this one.
_CLIENT_FACTORIES = {
    "paperless": "files.backends.paperless.client_from_preference",
    "papra": "files.backends.papra.client_from_preference",
}


# --- errors ------------------------------------------------------------------------------


class BackendError(ApiError):
    """Base of every document back-end failure. `backend` names it ("paperless"…)."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The document server could not be used."
    error_code = "BACKEND-502"

    def __init__(self, detail: str | None = None, *, backend: str | None = None):
        super().__init__(detail)
        self.backend = backend


class BackendNotConfigured(BackendError):
    """The user has not set up (or has switched off) this back-end, or its saved secret
    cannot be read any more."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This document server is not configured or not enabled."
    error_code = "BACKEND-400"


class BackendUnavailable(BackendError):
    """Connection refused, name not resolved, TLS failure, or the server answered 5xx or
    something we cannot read."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The document server is unavailable."
    error_code = "BACKEND-502"


class BackendAuthFailed(BackendUnavailable):
    """The server refused the saved token or credentials (its 401/403). Answered 502 so the
    web app does not read it as the end of its own session."""

    default_detail = "The document server refused the saved token or credentials."
    error_code = "BACKEND-AUTH-502"


class BackendTimeout(BackendError):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = "The document server did not answer in time."
    error_code = "BACKEND-504"


class BackendDocumentNotFound(BackendError):
    """The document does not exist (any more) on the back-end."""

    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "The document no longer exists on the document server."
    error_code = "BACKEND-404"


class BackendRejected(BackendError):
    """The server understood the call and refused it (a 4xx other than 401/403/404), e.g. an
    upload it will not take. 502: the fault is not in the request our client sent us."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The document server refused the request."
    error_code = "BACKEND-REFUSED-502"


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteUpload:
    """What an upload gave back: Paperless answers a task id to poll (the document exists
    only once its consumer has run); a back-end that stores at once answers the document id."""

    task_id: str | None = None
    document_id: str | None = None


class RemoteContent(NamedTuple):
    """A document's bytes: `chunks` streams them (close it, or read it to the end, to free
    the connection); `size` when the server tells it; `content_type` as the server says."""

    chunks: Iterator[bytes]
    size: int | None
    content_type: str


@runtime_checkable
class DocumentBackendClient(Protocol):
    """What every back-end's client offers. Methods raise the errors above, never
    `requests` exceptions. Ids are strings (Paperless uses integers, Papra strings)."""

    name: str  # "paperless" | "papra"

    def test(self) -> dict[str, Any]:
        """Check URL and token: {"version": str | None, "authenticated": True, ...}."""
        ...

    def upload(
        self,
        fileobj,
        *,
        file_name: str,
        content_type: str,
        title: str,
        tags: list[str] = (),
        correspondent: str = "",
    ) -> RemoteUpload:
        """Send the bytes; `tags` and `correspondent` are names, applied where the back-end
        has them (Paperless; Papra ignores them)."""
        ...

    def task_status(self, task_id: str) -> dict[str, Any]:
        """Paperless only: {"status": PENDING|STARTED|SUCCESS|FAILURE, "document_id": str |
        None, "error": str | None}. Others raise NotImplementedError."""
        ...

    def open(self, document_id: str) -> RemoteContent: ...

    def describe(self, document_id: str) -> dict[str, Any]:
        """The document's metadata: at least {"id", "title", "original_file_name",
        "content_type", "size"} (None where unknown); BackendDocumentNotFound when gone."""
        ...

    def exists(self, document_id: str) -> bool: ...

    def title_of(self, document_id: str) -> str | None:
        """The document's current title, None when it is gone from the back-end; other
        failures raise, so an unreachable server never reads as "deleted"."""
        ...

    def confirm(self, document_id: str, *, size: int, md5: str, sha256: str) -> bool:
        """Whether the remote document is the file we sent, checked with what the API
        exposes (a checksum, else the size). Decides whether the local copy may go."""
        ...

    def search(self, query: str, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]: ...


# --- registry ----------------------------------------------------------------------------


def backend_label(name: str) -> str:
    return BACKEND_LABELS.get(name, name)


def preference_of(user) -> UserPreference | None:
    from medikeep.accounts.models import UserPreference

    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return UserPreference.objects.filter(user=user).first()


def saved_secrets(preference: UserPreference, name: str) -> dict[str, Any]:
    """The decrypted secrets of back-end `name` ({} when none were saved)."""
    token = getattr(preference, f"{name}_secrets", "") or ""
    if not token:
        return {}
    try:
        value = decrypt_json(token)
    except DecryptionError as exc:
        raise BackendNotConfigured(
            f"The saved {backend_label(name)} credentials cannot be read any more "
            "(the encryption key changed); save them again.",
            backend=name,
        ) from exc
    return value if isinstance(value, dict) else {}


def backend_enabled(name: str, preference: UserPreference | None) -> bool:
    return bool(
        preference is not None
        and name in _CLIENT_FACTORIES
        and getattr(preference, f"{name}_enabled", False)
        and getattr(preference, f"{name}_url", "")
    )


def client_for_preference(name: str, preference: UserPreference | None) -> DocumentBackendClient:
    if name not in _CLIENT_FACTORIES:
        raise BackendNotConfigured(f"Unknown document server {name!r}.")
    if not backend_enabled(name, preference):
        raise BackendNotConfigured(
            f"{backend_label(name)} is not configured or not enabled in your settings.",
            backend=name,
        )
    factory = import_string(_CLIENT_FACTORIES[name])
    return factory(preference)


def backend_for(name: str, user) -> DocumentBackendClient:
    """The client of back-end `name` with `user`'s saved URL and token;
    BackendNotConfigured when the user has not set it up or switched it off."""
    return client_for_preference(name, preference_of(user))


# --- HTTP helpers shared by the clients --------------------------------------------------


def request_timeout() -> tuple[float, float]:
    """(connect, read) seconds for every call to a back-end."""
    read = float(getattr(settings, "DOCUMENT_BACKEND_TIMEOUT", 10))
    connect = float(getattr(settings, "DOCUMENT_BACKEND_CONNECT_TIMEOUT", 5))
    return min(connect, read), read


def _reason_of(exc: requests.RequestException) -> str:
    """A short reason without the URL, headers or anything else the exception carries."""
    text = str(exc).lower()
    if isinstance(exc, requests.exceptions.SSLError):
        return "its TLS certificate or handshake failed"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "name or service not known" in text or "nodename nor servname" in text:
            return "its host name could not be resolved"
        if "getaddrinfo" in text or "name resolution" in text:
            return "its host name could not be resolved"
        if "refused" in text:
            return "the connection was refused"
        return "the connection failed"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return "its URL is not valid"
    return "the request failed"


@contextlib.contextmanager
def translate_errors(name: str):
    """Run `requests` calls; their failures leave as BackendTimeout / BackendUnavailable."""
    label = backend_label(name)
    try:
        yield
    except BackendError:
        raise
    except requests.exceptions.Timeout as exc:
        logger.info("%s call timed out", label)
        raise BackendTimeout(
            f"{label} did not answer within {request_timeout()[1]:g} seconds.", backend=name
        ) from exc
    except requests.RequestException as exc:
        reason = _reason_of(exc)
        logger.info("%s call failed: %s", label, reason)
        raise BackendUnavailable(f"{label} is unreachable: {reason}.", backend=name) from exc


def raise_for_status(response: requests.Response, name: str, *, what: str = "") -> None:
    """Map the back-end's error statuses onto our errors (the body is not echoed: it may
    repeat what we sent)."""
    code = response.status_code
    if code < 400:
        return
    label = backend_label(name)
    suffix = f" ({what})" if what else ""
    if code in (401, 403):
        raise BackendAuthFailed(
            f"{label} refused the saved token or credentials (HTTP {code}){suffix}.",
            backend=name,
        )
    if code == 404:
        raise BackendDocumentNotFound(f"{label} does not have it (HTTP 404){suffix}.", backend=name)
    if code == 504 or code == 408:
        raise BackendTimeout(f"{label} timed out (HTTP {code}){suffix}.", backend=name)
    if code >= 500:
        raise BackendUnavailable(
            f"{label} answered with an error (HTTP {code}){suffix}.", backend=name
        )
    raise BackendRejected(f"{label} refused the request (HTTP {code}){suffix}.", backend=name)


__all__ = [
    "BACKEND_LABELS",
    "BackendAuthFailed",
    "BackendDocumentNotFound",
    "BackendError",
    "BackendNotConfigured",
    "BackendRejected",
    "BackendTimeout",
    "BackendUnavailable",
    "DocumentBackendClient",
    "RemoteContent",
    "RemoteUpload",
    "backend_enabled",
    "backend_for",
    "backend_label",
    "client_for_preference",
    "preference_of",
    "raise_for_status",
    "request_timeout",
    "saved_secrets",
    "translate_errors",
]
