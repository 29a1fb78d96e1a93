"""Environment helpers: every setting that an operator may change is read through these.

Each helper checks its value. While settings.py is being read (between `begin_validation()` and
`end_validation()`), a bad value is noted and the helper returns its default so the rest of the
settings can still be read; `end_validation()` then stops the process with one line per
problem — the variable, its value (secrets masked) and what is expected. Outside that window a
bad value stops the process at once. Both go through ConfigurationError, a SystemExit: Python
prints its message and exits non-zero without a traceback whatever the entry point (manage.py,
the WSGI/ASGI module, `python -c "import django; django.setup()"`), and no `except Exception`
on the way can swallow it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse, urlsplit, urlunsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# A name with one of these parts holds a secret: its value is never printed.
_SECRET_PARTS = ("SECRET", "PASSWORD", "PASSPHRASE", "TOKEN", "IDENTITIES", "ENCRYPTION_KEY")


class ConfigurationError(SystemExit):
    """The environment holds values the server cannot run with. `problems` are the lines."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        count = len(self.problems)
        heading = (
            f"MediKeep cannot start: {count} setting{'s' if count != 1 else ''} in the "
            "environment must be fixed (docs/configuration.md):"
        )
        # SystemExit with a string: Python prints it to stderr and exits with status 1.
        super().__init__("\n".join([heading, *(f"  {line}" for line in self.problems)]))


_pending: list[str] | None = None


def begin_validation() -> None:
    """From now on bad values are collected instead of stopping the process one by one."""
    global _pending
    _pending = []


def end_validation() -> None:
    """Stops the process if anything read since begin_validation() was invalid."""
    global _pending
    found, _pending = _pending or [], None
    if found:
        raise ConfigurationError(found)


def is_secret(name: str) -> bool:
    upper = name.upper()
    return any(part in upper for part in _SECRET_PARTS) or upper.endswith("_KEY")


def shown(name: str, value: str) -> str:
    """The value as it may appear in a message: secrets masked, URL passwords hidden."""
    if is_secret(name) and not name.endswith("_FILE"):  # a file's path is no secret
        return "'***'" if value else "''"
    return repr(mask_url_password(value))


def mask_url_password(value: str) -> str:
    try:
        parts = urlsplit(value)
        if parts.password is None:
            return value
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    except ValueError:
        return value


def invalid(name: str, value: str, expected: str, default=None):
    """Notes (or raises at once) that NAME's value is not usable; returns the default."""
    line = f"{name}={shown(name, value)}: expected {expected}"
    if _pending is None:
        raise ConfigurationError([line])
    if line not in _pending:
        _pending.append(line)
    return default


def _raw(name: str) -> str | None:
    return os.environ.get(name)


def env_str(name: str, default: str = "") -> str:
    """A string from NAME, or from the file named by NAME_FILE (Docker secrets); NAME wins."""
    value = _raw(name)
    if value is not None:
        return value
    file_name = _raw(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
            return invalid(
                f"{name}_FILE", file_name, f"a readable file holding {name} ({reason})", default
            )
    return default


def env_bool(name: str, default: bool = False) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return invalid(name, raw, "true or false (also 1/0, yes/no, on/off)", default)


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = _raw(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        return invalid(name, raw, "a whole number", default)
    if minimum is not None and value < minimum:
        return invalid(name, raw, f"a whole number of at least {minimum}", default)
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = _raw(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    """One of `choices` (compared in lower case); unset or empty is the default."""
    choices = tuple(choices)
    raw = env_str(name, default)
    value = raw.strip().lower() or default
    if value not in choices:
        return invalid(name, raw, f"one of {', '.join(choices)}", default)
    return value


def env_checked(name: str, default: str, check: Callable[[str], object], expected: str) -> str:
    """A string that `check` accepts (it raises ValueError otherwise); unset: the default."""
    raw = env_str(name, default)
    if raw == default:
        return raw
    try:
        check(raw)
    except (ValueError, TypeError, KeyError):
        return invalid(name, raw, expected, default)
    return raw


# --- rates ------------------------------------------------------------------------------------

_RATE_PERIODS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
}  # fmt: skip
RATE_EXPECTED = "a rate such as 10/min: a whole number, '/', then s, min, hour or day"


def parse_rate(rate: str) -> tuple[int, int]:
    """ "100/min" -> (100, 60). Raises ValueError for anything else (e.g. "10/fortnight")."""
    count, slash, period = rate.strip().partition("/")
    period = period.strip().lower()
    if period.endswith("s") and period[:-1] in _RATE_PERIODS and len(period) > 1:
        period = period[:-1]  # "hours", "mins"
    if not slash or period not in _RATE_PERIODS or not count.strip().isdigit():
        raise ValueError(f"{rate!r} is not {RATE_EXPECTED}")
    limit = int(count)
    if limit < 1:
        raise ValueError(f"{rate!r}: the count must be at least 1")
    return limit, _RATE_PERIODS[period]


def env_rate(name: str, default: str) -> str:
    return env_checked(name, default, parse_rate, RATE_EXPECTED)


# --- addresses ----------------------------------------------------------------------------------


def env_networks(name: str) -> list[str]:
    """IP addresses or networks (CIDR), comma-separated."""
    entries = env_list(name)
    for entry in entries:
        try:
            ip_network(entry, strict=False)
        except ValueError:
            invalid(
                name,
                ",".join(entries),
                f"IP addresses or networks such as 10.0.0.0/8; {entry!r} is neither",
            )
            return []
    return entries


def check_origin(value: str) -> None:
    """scheme://host[:port] and nothing more (no path): what browsers send as Origin."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(value)
    _ = parts.port  # raises ValueError for a port that is not a number
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        raise ValueError(value)


def check_http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(value)
    _ = parts.port


def env_origins(name: str, *, wildcards: bool = False) -> list[str]:
    # An origin has no path: a trailing slash, as in a copied address, is dropped.
    entries = [entry.rstrip("/") for entry in env_list(name)]
    for entry in entries:
        try:
            check_origin(entry.replace("://*.", "://wildcard.", 1) if wildcards else entry)
        except ValueError:
            invalid(
                name,
                ",".join(entries),
                f"origins such as https://health.example.org (scheme, host, optional port, no "
                f"path) separated by commas; {entry!r} is not one",
            )
            return []
    return entries


def env_url(name: str, default: str = "") -> str:
    """An http(s) URL, or empty."""
    raw = env_str(name, default)
    if not raw:
        return raw
    try:
        check_http_url(raw)
    except ValueError:
        return invalid(name, raw, "an http:// or https:// URL with a host", default)
    return raw


def env_timezone(name: str, default: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    raw = env_str(name, default).strip() or default
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        return invalid(name, raw, "an IANA time zone name such as Europe/Berlin or UTC", default)
    return raw


def env_fernet_keys(name: str) -> str:
    """Comma-separated Fernet keys (32 bytes, url-safe base64), or empty."""
    import base64
    import binascii

    raw = env_str(name)
    for position, key in enumerate((k.strip() for k in raw.split(",") if k.strip()), start=1):
        try:
            ok = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            return invalid(
                name,
                raw,
                f"Fernet keys (32 bytes, url-safe base64) separated by commas; key {position} is "
                "not one",
                "",
            )
    return raw


# --- service URLs -------------------------------------------------------------------------------


def database_from_url(url: str, *, sqlite_default: Path) -> dict:
    """Django DATABASES['default'] for a DATABASE_URL; unset means the embedded SQLite file.
    Raises ValueError (what is expected) for a URL it cannot use."""
    if not url:
        return _sqlite(sqlite_default)
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        # sqlite:///relative and sqlite:////absolute, as other tools spell them
        return _sqlite(Path(path[1:]) if path.startswith("//") else Path(path or sqlite_default))
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        try:
            port = parsed.port
        except ValueError:
            raise ValueError(
                "a port that is a number (postgres://user:pass@host:5432/name)"
            ) from None
        if "@" in parsed.netloc and not parsed.hostname:
            raise ValueError("a host after '@' (postgres://user:pass@host:5432/name)")
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "medikeep",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ValueError(
        "a URL starting sqlite:// or postgres:// (e.g. postgres://user:pass@host:5432/name)"
    )


def env_database(name: str, *, sqlite_default: Path) -> dict:
    raw = env_str(name)
    try:
        return database_from_url(raw, sqlite_default=sqlite_default)
    except ValueError as exc:
        invalid(name, raw, str(exc))
        return _sqlite(sqlite_default)


def check_redis_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(value)
        return
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise ValueError(value)
    _ = parts.port
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError(value)


def env_redis_url(name: str) -> str:
    raw = env_str(name)
    if not raw:
        return raw
    try:
        check_redis_url(raw)
    except ValueError:
        return invalid(
            name,
            raw,
            "redis://[:password@]host[:port][/db], rediss://… (TLS) or unix:///path/to/socket",
            "",
        )
    return raw


def _sqlite(path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets the web server read while the worker writes; IMMEDIATE avoids
            # "database is locked" on upgrade from a read to a write transaction.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


def secret_key(var_dir: Path) -> str:
    """DJANGO_SECRET_KEY (or _FILE); otherwise one generated once and kept under var/."""
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key
