"""Writing browser-side events into the server log, with secrets scrubbed first."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

frontend_logger = logging.getLogger("adminops.frontend")

REDACTED = "[REDACTED]"

# Keys whose values are credentials wherever they appear ("X-Api-Key", "refresh_token", …).
SENSITIVE_KEY = re.compile(r"password|passwd|token|secret|authorization|cookie|api[_-]?key", re.I)
# A JWT is three base64url segments; its header is a JSON object, so it always starts "eyJ".
# Requiring that prefix keeps dotted names in stack traces ("Component.render.call") readable.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]+", re.I)
# Credentials in query strings of logged URLs: "?token=abc&page=2".
_QUERY_SECRET = re.compile(
    r"(\b[\w-]*(?:password|passwd|token|secret|api[_-]?key)[\w-]*=)[^&#\s]+", re.I
)

LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


def redact_text(text: str) -> str:
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    return _QUERY_SECRET.sub(rf"\1{REDACTED}", text)


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with credential-named keys and token-like strings masked.

    Recursion is safe: request serializers cap nesting depth before anything reaches here.
    """
    if isinstance(value, dict):
        return {
            key: REDACTED if SENSITIVE_KEY.search(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def frontend_event_log(
    *,
    event: str,
    level: int,
    fields: dict[str, Any],
    user_id: int | None,
    client_ip: str,
) -> None:
    """Writes one browser event as a single log line.

    `user_id` is who the server authenticated; whatever id the browser sent is kept apart as
    `claimed_user_id`, so a forged body cannot attribute an event to someone else. The record
    is JSON-encoded, ASCII only, so no line break in client text (not even U+2028) can forge
    extra log lines.
    """
    data = {key: value for key, value in fields.items() if value not in (None, "", {}, [])}
    claimed = data.pop("user_id", None)
    record = {
        "event": event,
        "user_id": user_id,
        "claimed_user_id": claimed,
        "ip": client_ip,
        **redact(data),
    }
    encoded = json.dumps(record, default=str, sort_keys=True)
    frontend_logger.log(level, "frontend %s %s", event, encoded)
