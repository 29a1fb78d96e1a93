"""Sending one message through one channel (Apprise), with every secret kept out of sight.

`send` never raises for a failed delivery: it answers SendResult(ok, error). Apprise says why a
send failed only in its log records, and those (and urllib3's request lines) carry tokens,
passwords and full target URLs. So while a send runs, a filter on those loggers rewrites each
record with the channel's secrets and every URL's path cut away, and keeps the warnings as
the error to report. The filter stays installed for records outside a send too (URLs cut).
"""

from __future__ import annotations

import contextvars
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from rest_framework.exceptions import ValidationError

from notifications import channels

logger = logging.getLogger("medikeep.notifications")

# Seconds to wait for a connection and then for an answer (SMTP: for the connection).
DEFAULT_TIMEOUT = 10.0
ERROR_MAX_LENGTH = 500
GENERIC_FAILURE = "The service did not accept the notification."

_ANGLES = str.maketrans({"<": "\u2039", ">": "\u203a"})
_URL = re.compile(r"\b([a-z][a-z0-9+.-]{1,15})://([^\s/'\"<>()]*)([^\s'\"<>()]*)", re.IGNORECASE)
_REASONS = (
    ("connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("temporary failure in name resolution", "host name not found"),
    ("certificate verify failed", "TLS certificate not trusted"),
    ("authentication", "authentication failed"),
)


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


def _cut_url(match: re.Match) -> str:
    scheme, authority, rest = match.groups()
    host = authority.rpartition("@")[2]  # never a user:password@
    return f"{scheme}://{host}/..." if rest.strip("/") else f"{scheme}://{host}"


def scrub(text: str, redactions: list[tuple[str, str]] | tuple = ()) -> str:
    """`text` with each (secret, replacement) of `redactions` (channels.redactions) replaced
    and every URL cut to its scheme and host."""
    for secret, replacement in redactions:
        if secret:
            text = text.replace(secret, replacement)
    return _URL.sub(_cut_url, text)


@dataclass
class _Capture:
    secrets: list[tuple[str, str]]
    warnings: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


_current: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "notification_send", default=None
)


class _ScrubFilter(logging.Filter):
    """Rewrites Apprise's and urllib3's records before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        capture = _current.get()
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: show nothing of it
            message = str(record.msg)
        if record.exc_info:
            message = f"{message} ({record.exc_info[0].__name__}: {record.exc_info[1]})"
            record.exc_info = record.exc_text = None
        cleaned = scrub(message, capture.secrets if capture else ())
        record.msg, record.args = cleaned, ()
        if capture is not None and record.name == "apprise":
            if record.levelno >= logging.WARNING:
                capture.warnings.append(cleaned)
            lowered = cleaned.lower()
            for needle, reason in _REASONS:
                if needle in lowered and reason not in capture.reasons:
                    capture.reasons.append(reason)
        if record.name == "apprise":
            return record.levelno >= _apprise_threshold()
        return True


_FILTER = _ScrubFilter()
_FILTERED_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.connection", "urllib3.util")
for _name in _FILTERED_LOGGERS:
    _logger = logging.getLogger(_name)
    if _FILTER not in _logger.filters:
        _logger.addFilter(_FILTER)
# Apprise says why a send failed (connection refused, timed out) only at DEBUG: let it always
# write DEBUG so a send can read the reason; the filter then drops what is below the level the
# operator set (the apprise logger's own, else its parents').
_APPRISE = logging.getLogger("apprise")
_APPRISE_CONFIGURED_LEVEL = _APPRISE.level
_APPRISE.setLevel(logging.DEBUG)


def _apprise_threshold() -> int:
    if _APPRISE_CONFIGURED_LEVEL != logging.NOTSET:
        return _APPRISE_CONFIGURED_LEVEL
    return _APPRISE.parent.getEffectiveLevel() if _APPRISE.parent else logging.WARNING


@contextmanager
def _capturing(secrets: list[tuple[str, str]]):
    capture = _Capture(secrets=secrets)
    token = _current.set(capture)
    try:
        yield capture
    finally:
        _current.reset(token)


def _asset():
    from apprise import AppriseAsset

    # No disk cache, no redirects to other hosts, our name in User-Agent and mail headers.
    return AppriseAsset(app_id="MediKeep", storage_mode="memory", http_redirects=False)


def _error_of(capture: _Capture) -> str:
    warnings = list(dict.fromkeys(capture.warnings))  # in order, once each
    text = "; ".join(warnings) or GENERIC_FAILURE
    extra = [reason for reason in capture.reasons if reason not in text.lower()]
    if extra:
        text = f"{text} ({', '.join(extra)})"
    text = scrub(text, capture.secrets)
    return text if len(text) <= ERROR_MAX_LENGTH else text[: ERROR_MAX_LENGTH - 1] + "…"


def send(
    channel_type: str,
    config: dict,
    *,
    title: str,
    body: str,
    idempotency_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SendResult:
    """Deliver `title`/`body` through a channel of `channel_type` with these settings.

    ok=False with a readable, secret-free `error` when the settings are invalid, the service
    refuses or cannot be reached. Webhook requests carry `X-MediKeep-Delivery:
    <idempotency_key>` so a receiver can drop a repeat."""
    secrets = channels.redactions(channel_type, config) if isinstance(config, dict) else []
    with _capturing(secrets) as capture:
        try:
            sender = channels.notifier(
                channel_type,
                config,
                idempotency_key=idempotency_key,
                asset=_asset(),
                cto=timeout,
                rto=timeout,
            )
        except ValidationError as exc:
            message = channels.describe_errors(exc)
            return SendResult(False, scrub(f"Channel configuration is invalid: {message}", secrets))
        except Exception as exc:  # Apprise refused the settings (it logs why)
            logger.info("notifier for a %s channel refused: %s", channel_type, type(exc).__name__)
            capture.warnings.insert(0, "Channel configuration is invalid")
            return SendResult(False, _error_of(capture))
        if channel_type == "telegram":
            # Apprise's Telegram HTML reducer drops an escaped "<…>" from plain text (it would
            # lose "<tablet>"); look-alike angle quotes keep the words.
            title, body = (text.translate(_ANGLES) for text in (title or "", body or ""))
        try:
            # Plain text in; Apprise escapes it for services that read HTML or Markdown.
            ok = bool(sender.notify(body=body or " ", title=title or "", body_format="text"))
        except Exception as exc:  # a plugin bug must not become a crash of the caller
            capture.warnings.append(f"{type(exc).__name__}: {scrub(str(exc), secrets)}")
            ok = False
    if ok:
        return SendResult(True)
    return SendResult(False, _error_of(capture))
