"""Read-only facts about the running system (health, logging setup, release notes, timezone)
and reads of the activity log."""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from adminops.models import ActivityLog
from adminops.tasks import WORKER_HEARTBEAT_KEY
from notifications.models import SignInAddress
from patients.access import Level, accessible_patient_ids
from patients.choices import RecordAction
from patients.models import Patient

logger = logging.getLogger("adminops.health")

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
DEFAULT_LOG_LEVEL = "INFO"
# Short on purpose: a health probe that hangs on a dead Redis is worse than one that says "error".
BROKER_TIMEOUT_SECONDS = 1.0
MIB = 1024 * 1024


# --- health -----------------------------------------------------------------------------------


def _run_cheap_query() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def database_status() -> dict[str, str]:
    """Whether the default database answers a trivial query."""
    try:
        _run_cheap_query()
    except Exception as exc:
        # Only the class name: driver messages may carry the host, user or the whole URL.
        logger.error("health: database check failed (%s)", type(exc).__name__)
        return {"status": "error", "vendor": connection.vendor}
    return {"status": "ok", "vendor": connection.vendor}


def _celery_eager() -> bool:
    from medikeep.celery import app

    return bool(app.conf.task_always_eager)


@lru_cache(maxsize=4)
def _redis_client(url: str):
    """One client (and connection pool) per process: a probe must not pay for a new TCP
    connection, and redis-py hands the pooled connection back after each command."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),  # one attempt: redis-py otherwise retries with backoff
    )


def _ping_redis(url: str) -> None:
    _redis_client(url).ping()


def _broker_folders() -> list[Path]:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    keys = ("data_folder_in", "data_folder_out")
    return sorted({Path(options[key]) for key in keys if options.get(key)})


def broker_status() -> dict[str, str]:
    """Reachability of the Celery broker, by the transport actually in use."""
    if _celery_eager():
        # Tasks run inside the request; there is no broker to be down.
        return {"status": "ok", "transport": "eager"}
    if settings.REDIS_URL:
        try:
            _ping_redis(settings.REDIS_URL)
        except Exception as exc:
            logger.warning("health: redis broker unreachable (%s)", type(exc).__name__)
            return {"status": "error", "transport": "redis"}
        return {"status": "ok", "transport": "redis"}
    folders = _broker_folders()
    usable = bool(folders) and all(
        folder.is_dir() and os.access(folder, os.W_OK | os.X_OK) for folder in folders
    )
    return {"status": "ok" if usable else "error", "transport": "filesystem"}


def worker_status(now: datetime | None = None) -> dict[str, Any]:
    """Worker liveness from the heartbeat that beat makes a worker write every minute."""
    try:
        raw = cache.get(WORKER_HEARTBEAT_KEY)
    except Exception as exc:  # a cache outage means we cannot know, not that the worker died
        logger.warning("health: heartbeat unreadable (%s)", type(exc).__name__)
        raw = None
    last_seen = parse_datetime(raw) if isinstance(raw, str) else None
    if last_seen is None:
        return {"status": "unknown", "last_seen": None}
    if timezone.is_naive(last_seen):
        last_seen = timezone.make_aware(last_seen, UTC)
    age = (now or timezone.now()) - last_seen
    fresh = age <= timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    return {"status": "ok" if fresh else "stale", "last_seen": last_seen}


def logging_status() -> dict[str, Any]:
    return {
        "current_level": settings.LOG_LEVEL,
        "level_valid": settings.LOG_LEVEL in LOG_LEVELS,
        "categories_configured": len(settings.LOG_CATEGORIES),
    }


_health_memo: dict[str, Any] = {}
_health_lock = threading.Lock()


def system_health() -> dict[str, Any]:
    """The full health report. Unhealthy when the database does not answer, or Redis (the
    broker and cache, when configured) does not: the API cannot serve without them. A worker
    or a filesystem broker that is down only degrades, and their own fields say so.

    Probes call this every few seconds from several places; the checks are shared for
    HEALTH_CHECK_SECONDS (per process), so a burst of probes costs one round of checks."""
    now = time.monotonic()
    with _health_lock:
        memo = _health_memo.get("report")
        if memo is None or now - memo[0] >= settings.HEALTH_CHECK_SECONDS:
            memo = (now, _check_components())
            _health_memo["report"] = memo
    return {**memo[1], "timestamp": timezone.now()}


def cache_status() -> dict[str, str]:
    """Whether the shared cache (rate limits, sign-in back-offs, heartbeat) answers."""
    backend = "redis" if "redis" in settings.CACHES["default"]["BACKEND"].lower() else "local"
    try:
        cache.get("health:probe")
    except Exception as exc:
        logger.warning("health: cache unreachable (%s)", type(exc).__name__)
        return {"status": "error", "backend": backend}
    return {"status": "ok", "backend": backend}


def _reasons(database: dict, cache_report: dict, broker: dict) -> list[str]:
    """Why the report is unhealthy, in words an operator acts on."""
    reasons = []
    if database["status"] != "ok":
        reasons.append(f"database ({database['vendor']}) unreachable")
    if cache_report["status"] != "ok":
        reasons.append(
            f"cache ({cache_report['backend']}) unreachable: rate limits and sign-in back-offs "
            "are counted per process (degraded mode)"
        )
    if broker["transport"] == "redis" and broker["status"] != "ok":
        reasons.append("broker (redis) unreachable: background tasks cannot be queued")
    return reasons


def _check_components() -> dict[str, Any]:
    database = database_status()
    cache_report = cache_status()
    broker = broker_status()
    reasons = _reasons(database, cache_report, broker)
    return {
        "status": "unhealthy" if reasons else "healthy",
        "reasons": reasons,
        "app_name": settings.APP_NAME,
        "version": settings.APP_VERSION,
        "database": database,
        "cache": cache_report,
        "broker": broker,
        "worker": worker_status(),
        "logging_system": logging_status(),
    }


# --- logging configuration ----------------------------------------------------------------------


def log_level_info() -> dict[str, Any]:
    level = settings.LOG_LEVEL
    categories = settings.LOG_CATEGORIES
    return {
        "current_level": level,
        "available_levels": LOG_LEVELS,
        "default_level": DEFAULT_LOG_LEVEL,
        "categories": list(categories),
        "file_mapping": {
            name: f"{Path(settings.LOG_DIR).name}/{name}.log - {description}"
            for name, description in categories.items()
        },
        "configuration": {
            "log_level_numeric": logging.getLevelNamesMapping().get(level),
            "simplified_structure": True,
            "file_count": len(categories),
            "max_file_size_mb": round(settings.LOG_MAX_BYTES / MIB, 2),
            "backup_count": settings.LOG_BACKUP_COUNT,
        },
    }


def log_file_info(path: Path) -> dict[str, Any]:
    size = path.stat().st_size if path.is_file() else 0
    return {
        "path": str(path),
        "size_bytes": size,
        "size_mb": round(size / MIB, 2),
        "exists": path.is_file(),
    }


def log_rotation_info() -> dict[str, Any]:
    """How log files rotate here: Python's size-based RotatingFileHandler, nothing else."""
    log_dir = Path(settings.LOG_DIR)
    size_mb = settings.LOG_MAX_BYTES // MIB
    return {
        "rotation_method": "python",
        "logrotate_available": shutil.which("logrotate") is not None,
        "configuration": {
            "method": "python",
            "size": f"{size_mb}M",
            "time": None,
            "backup_count": settings.LOG_BACKUP_COUNT,
            "compression": False,
            "retention_days": None,
        },
        "log_directory": str(log_dir),
        "log_files": {
            name: log_file_info(log_dir / f"{name}.log") for name in settings.LOG_CATEGORIES
        },
        "features": {
            "size_based_rotation": True,
            "time_based_rotation": False,
            "compression": False,
            "hybrid_rotation": False,
        },
        "notes": {
            "python_rotation": "Files roll over by size; old files are kept up to backup_count.",
            "logrotate_rotation": "Not used: an external logrotate may be configured by the host.",
        },
    }


# --- release notes --------------------------------------------------------------------------

_RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?:\s*-\s*(?P<date>\S+))?")
_LINK_REFERENCE = re.compile(r"^\[[^\]]+\]:\s")


def _release_date(raw: str | None) -> datetime | None:
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def changelog_path() -> Path:
    return Path(settings.BASE_DIR) / "CHANGELOG.md"


def release_notes(path: Path | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """Releases from a Keep-a-Changelog file, newest first as written; no network involved.

    The "Unreleased" section is skipped: it describes no published version.
    """
    path = path or changelog_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []  # like the reference when GitHub is unreachable: an empty list, not an error
    releases: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in lines:
        if line.startswith("## "):
            current = None
            match = _RELEASE_HEADING.match(line)
            if match and match["version"].lower() != "unreleased":
                tag = f"v{match['version']}"
                current = {"tag_name": tag, "name": tag, "body_lines": [], "date": match["date"]}
                releases.append(current)
        elif current is not None and not _LINK_REFERENCE.match(line):
            body = current["body_lines"]
            if line[:1].isspace() and line.strip() and body and body[-1].strip():
                # A wrapped list item's next line: the web app's release viewer breaks the
                # line there, so the item is given back on one line.
                body[-1] = f"{body[-1]} {line.strip()}"
            else:
                body.append(line)
    return [
        {
            "tag_name": item["tag_name"],
            "name": item["name"],
            "body": "\n".join(item["body_lines"]).strip(),
            "published_at": _release_date(item["date"]),
            "html_url": None,
        }
        for item in releases[:limit]
    ]


# --- timezone -------------------------------------------------------------------------------


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def timezone_info(now: datetime | None = None) -> dict[str, Any]:
    """The facility timezone (settings.TIME_ZONE) at a moment, in the contract's and the
    reference implementation's field names."""
    name = settings.TIME_ZONE
    utc_now = (now or timezone.now()).astimezone(UTC).replace(microsecond=0)
    local = utc_now.astimezone(ZoneInfo(name))
    offset = local.utcoffset() or timedelta(0)
    return {
        "timezone": name,
        "utc_offset": _format_offset(offset),
        "current_time": local.isoformat(),
        "is_dst": bool(local.dst()),
        "facility_timezone": name,
        "current_utc_time": utc_now.isoformat().replace("+00:00", "Z"),
        "current_facility_time": local.isoformat(),
        "timezone_offset_hours": offset.total_seconds() / 3600,
    }


# --- activity log -----------------------------------------------------------------------------


def recent_activity(*, user, patient_id: int | None = None, limit: int) -> list[ActivityLog]:
    """Newest activity rows, in one query.

    Without a patient: the user's own actions, on patients they can still see (or on none,
    like a patient's deletion). With a patient (access already checked by the caller): that
    patient's rows, whoever acted.
    """
    # Medical-record changes only: the dashboard shows created/updated/deleted items.
    rows = ActivityLog.objects.filter(action__in=RecordAction.values)
    if patient_id is None:
        rows = rows.filter(user_id=user.pk).filter(
            Q(patient__isnull=True) | Q(patient_id__in=accessible_patient_ids(user, Level.VIEW))
        )
    else:
        rows = rows.filter(patient_id=patient_id)
    return list(rows.order_by("-timestamp", "-id")[:limit])


# --- user management (admins) -------------------------------------------------------------

LOGIN_ACTIONS = ("login",)


def login_history(*, user_id: int, page: int, per_page: int) -> dict[str, Any]:
    """A user's sign-ins, newest first: the activity log's login rows, and one row per address
    the user signed in from (notifications' SignInAddress: its last sign-in there). One query
    for the page (a UNION ALL) and one for each count."""
    logins = ActivityLog.objects.filter(user_id=user_id, action__in=LOGIN_ACTIONS)
    addresses = SignInAddress.objects.filter(user_id=user_id)
    total = logins.count() + addresses.count()
    start = (page - 1) * per_page
    rows = []
    if start < total:
        first = logins.order_by().values_list(
            "timestamp",
            "description",
            "ip_address",
            models.Value(None, output_field=models.DateTimeField()),
        )
        second = addresses.order_by().values_list(
            "last_seen_at",
            models.Value("", output_field=models.TextField()),
            "ip_address",
            "first_seen_at",
        )
        rows = list(first.union(second, all=True).order_by("-timestamp")[start : start + per_page])
    items = []
    for timestamp, description, address, first_seen in rows:
        if first_seen is not None:
            description = (
                f"Last sign-in from {address} "
                f"(first seen {first_seen.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
            )
        items.append({"timestamp": timestamp, "description": description, "ip_address": address})
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def patient_search(*, query: str, limit: int) -> dict[str, Any]:
    """Patients for the "link a patient" picker, by name words (each word must match the first
    or the last name) or by id; every patient (first `limit`, by name) without a query."""
    rows = Patient.objects.select_related("owner")
    for word in query.split():
        match = Q(first_name__icontains=word) | Q(last_name__icontains=word)
        if word.isdigit() and len(word) <= 18:
            match |= Q(pk=int(word))
        rows = rows.filter(match)
    total = rows.count()
    patients = rows.order_by("last_name", "first_name", "pk")[:limit]
    return {
        "patients": [
            {
                "id": patient.pk,
                "first_name": patient.first_name,
                "last_name": patient.last_name,
                "birth_date": patient.birth_date,
                "is_self_record": patient.is_self_record,
                "owner_id": patient.owner_id,
                "owner_username": patient.owner.username,
                "owner_full_name": patient.owner.full_name or patient.owner.username,
            }
            for patient in patients
        ],
        "total": total,
    }
