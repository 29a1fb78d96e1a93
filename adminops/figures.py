"""Real figures about the running installation for the admin dashboard: row counts (one
query), database size, disk and directory usage, process uptime and memory, the last backup.

Nothing here writes. Every probe that can fail (a missing directory, an unreachable bucket,
a /proc that is not Linux's) answers what it could find instead of raising.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import CharField, Count, Q, QuerySet, Sum, Value
from django.utils import timezone

from adminops.models import Backup, BackupStatus
from adminops.services import entity_type_of
from files import storage as file_storage
from files.models import EntityFile
from medikeep.accounts.choices import UserRole
from medikeep.accounts.models import User
from patients.models import Patient, record_models
from records.models import LabResult, Pharmacy, Practitioner
from records.models.labs import LabResultStatus

logger = logging.getLogger("adminops.health")

MIB = 1024 * 1024
GIB = 1024 * MIB
# Users created in this many days count as recent registrations: the web app's dashboard
# card reads the figure as "+N this week".
RECENT_REGISTRATION_DAYS = 7
# Lab results still waiting for their values (the reference counts a status no lab result
# can have, so its figure is always 0).
PENDING_LAB_STATUSES = (LabResultStatus.ORDERED, LabResultStatus.IN_PROGRESS)
DISK_WARNING_PERCENT = 90.0
_IMPORTED_AT = datetime.now(UTC)


# --- counts -----------------------------------------------------------------------------------


def _counted(queryset: QuerySet, key: str) -> QuerySet:
    # SELECT '<key>', COUNT(*) FROM … [WHERE …]: a constant is not grouped on, so each part is
    # one row even for an empty table.
    return (
        queryset.order_by()
        .annotate(key=Value(key, output_field=CharField()))
        .values("key")
        .annotate(n=Count("*"))
        .values_list("key", "n")
    )


def _count_parts(now: datetime) -> tuple[list[tuple[str, QuerySet]], list[str]]:
    """(key, queryset) for every figure, and the keys of the record types (total_records)."""
    recent = now - timedelta(days=RECENT_REGISTRATION_DAYS)
    parts: list[tuple[str, QuerySet]] = [
        ("total_users", User.objects.all()),
        ("active_users", User.objects.filter(is_active=True)),
        ("admin_count", User.objects.filter(role=UserRole.ADMIN)),
        ("recent_registrations", User.objects.filter(created_at__gte=recent)),
        ("total_patients", Patient.objects.all()),
        ("total_practitioners", Practitioner.objects.all()),
        ("total_pharmacies", Pharmacy.objects.all()),
        ("pending_lab_results", LabResult.objects.filter(status__in=PENDING_LAB_STATUSES)),
    ]
    record_keys = []
    # The registry, never a list of names: a new record type is counted without a change here.
    for model in sorted(record_models(), key=lambda m: m._meta.label):
        key = model.dashboard_key or f"total_{entity_type_of(model)}"
        record_keys.append(key)
        parts.append((key, model._default_manager.all()))
        for name, condition in model.dashboard_filters.items():
            parts.append((name, model._default_manager.filter(condition)))
    return parts, record_keys


@lru_cache(maxsize=1)
def record_count_keys() -> tuple[str, ...]:
    """The keys record_counts() answers (fixed once the apps are loaded)."""
    parts, _ = _count_parts(timezone.now())
    return (*(key for key, _ in parts), "total_admins", "total_records")


def record_counts(now: datetime | None = None) -> dict[str, int]:
    """Every dashboard count in ONE query (a UNION ALL of COUNT(*) parts), whatever the
    number of record types.

    Keys: total_users, active_users, admin_count, total_admins (the same), recent_registrations,
    total_patients, total_practitioners, total_pharmacies, pending_lab_results, each record
    type's dashboard_key (or total_<type>) and dashboard_filters, and total_records (patients
    plus the rows of every record type).
    """
    parts, record_keys = _count_parts(now or timezone.now())
    first, *rest = [_counted(queryset, key) for key, queryset in parts]
    counts = dict(first.union(*rest, all=True))
    counts["total_admins"] = counts["admin_count"]
    counts["total_records"] = counts["total_patients"] + sum(counts[k] for k in record_keys)
    return counts


# --- database ---------------------------------------------------------------------------------


def database_ping(alias: str = DEFAULT_DB_ALIAS) -> float | None:
    """Milliseconds for a trivial query, or None when the database does not answer."""
    started = time.perf_counter()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # Only the class name: driver messages may carry the host, user or the whole URL.
        logger.error("dashboard: database check failed (%s)", type(exc).__name__)
        return None
    return round((time.perf_counter() - started) * 1000, 2)


def sqlite_file_bytes(path: str | os.PathLike) -> int:
    """The database file and its write-ahead log (WAL mode keeps recent writes there)."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):  # no WAL file while nothing is being written
            total += os.path.getsize(f"{path}{suffix}")
    return total


def database_size_bytes(alias: str = DEFAULT_DB_ALIAS) -> int | None:
    """pg_database_size on PostgreSQL; the file's size on SQLite (pages in use for an
    in-memory database). None when the database does not answer."""
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_database_size(current_database())")
                return int(cursor.fetchone()[0])
            if connection.vendor == "sqlite":
                name = str(connection.settings_dict["NAME"])
                if not connection.is_in_memory_db() and os.path.isfile(name):
                    return sqlite_file_bytes(name)
                cursor.execute("PRAGMA page_count")
                pages = cursor.fetchone()[0]
                cursor.execute("PRAGMA page_size")
                return int(pages) * int(cursor.fetchone()[0])
    except Exception as exc:
        logger.error("dashboard: database size unavailable (%s)", type(exc).__name__)
    return None


def database_connections(alias: str = DEFAULT_DB_ALIAS) -> int | None:
    """Sessions open on this database (PostgreSQL); None where the notion does not apply."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            return int(cursor.fetchone()[0])
    except Exception as exc:
        logger.warning("dashboard: connection count unavailable (%s)", type(exc).__name__)
        return None


# --- process and host ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def process_started_at() -> datetime:
    """When this server process started: from /proc on Linux (the kernel's record, so it is
    right however late this module is imported), else when this module was imported."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            # Field 22 is the start time in clock ticks after boot; the command name (field 2)
            # may contain spaces, so count from its closing parenthesis (field 3 = index 0).
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])
        with open("/proc/stat", encoding="ascii") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT


def uptime_seconds(now: datetime | None = None) -> int:
    return max(0, int(((now or timezone.now()) - process_started_at()).total_seconds()))


def humane_duration(seconds: int) -> str:
    """ "5 days, 3 hours", "2 hours, 5 minutes", "42 seconds" — the two largest units."""
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts = []
    for name, size in units:
        amount, seconds = divmod(seconds, size)
        if amount or (name == "second" and not parts):
            parts.append(f"{amount} {name}{'' if amount == 1 else 's'}")
        if len(parts) == 2:
            break
    return ", ".join(parts)


def _proc_kib(path: str, key: str) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_figures() -> dict[str, Any]:
    """This process's resident memory and the host's memory in use (Linux /proc)."""
    rss = _proc_kib("/proc/self/status", "VmRSS")
    total = _proc_kib("/proc/meminfo", "MemTotal")
    available = _proc_kib("/proc/meminfo", "MemAvailable")
    used_percent = None
    if total and available is not None:
        used_percent = round(100 * (total - available) / total, 1)
    return {
        "process_rss_mb": round(rss / 1024, 1) if rss is not None else None,
        "system_total_mb": round(total / 1024, 1) if total else None,
        "system_used_percent": used_percent,
    }


def load_figures() -> dict[str, Any]:
    """The 1-minute load average, also per CPU (1.0 = every core busy)."""
    cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return {"load_average_1m": None, "cpu_count": cpus, "load_per_cpu": None}
    return {
        "load_average_1m": round(load, 2),
        "cpu_count": cpus,
        "load_per_cpu": round(load / cpus, 2),
    }


def level_word(value: float | None, *, low_below: float, normal_below: float) -> str:
    """ "low", "normal" or "high" (the web app's words); "unknown" without a figure."""
    if value is None:
        return "unknown"
    if value < low_below:
        return "low"
    return "normal" if value < normal_below else "high"


def megabytes(size: int | None) -> str:
    return "unknown" if size is None else f"{size / MIB:.1f} MB"


# --- disk and directories ---------------------------------------------------------------------


def disk_space(path: Path) -> dict[str, Any] | None:
    """Usage of the file system holding `path` (its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return None
    return {
        "path": str(probe),
        "total_gb": round(usage.total / GIB, 2),
        "used_gb": round(usage.used / GIB, 2),
        "free_gb": round(usage.free / GIB, 2),
        "usage_percent": round(100 * usage.used / usage.total, 1) if usage.total else 0.0,
    }


def _tree_size(root: Path) -> tuple[int, int]:
    """(bytes, files) under `root`, without following links."""
    total = count = 0
    pending = [root]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                            count += 1
                    except OSError:
                        continue  # vanished while we looked
        except OSError:
            continue
    return total, count


def directory_figures(path: Path) -> dict[str, Any]:
    """Whether a directory exists and is writable, with the size and number of its files."""
    path = Path(path)
    exists = path.is_dir()
    size, files = _tree_size(path) if exists else (0, 0)
    figures: dict[str, Any] = {
        "path": str(path),
        "exists": exists,
        "write_permission": exists and os.access(path, os.W_OK | os.X_OK),
        "size_mb": round(size / MIB, 2),
        "size_bytes": size,
        "file_count": files,
    }
    if not exists:
        figures["error"] = "The directory does not exist."
    elif not figures["write_permission"]:
        figures["error"] = "The server cannot write to this directory."
    return figures


def backup_directory() -> Path:
    """Where backup archives are kept (BACKUP_DIR, else var/backups)."""
    return Path(getattr(settings, "BACKUP_DIR", None) or Path(settings.VAR_DIR) / "backups")


def entity_file_totals() -> dict[str, Any]:
    """Stored entity files as the database knows them, live and in the trash (one query)."""
    totals = EntityFile.objects.aggregate(
        files=Count("pk"),
        size=Sum("file_size"),
        trash_files=Count("pk", filter=Q(trashed_at__isnull=False)),
        trash_size=Sum("file_size", filter=Q(trashed_at__isnull=False)),
    )
    size, trash_size = totals["size"] or 0, totals["trash_size"] or 0
    return {
        "total_files": totals["files"],
        "total_mb": round(size / MIB, 2),
        "total_bytes": size,
        "trash_files": totals["trash_files"],
        "trash_mb": round(trash_size / MIB, 2),
    }


def _s3_figures(storage, totals: dict[str, Any]) -> dict[str, Any]:
    """The bucket's reachability and whether we may write to it (a probe object is written and
    removed at once). Sizes come from the database: listing a large bucket is too slow here."""
    figures: dict[str, Any] = {
        "backend": "s3",
        "bucket": storage.bucket_name,
        "location": storage.location or "",
        "exists": False,
        "write_permission": False,
        "size_mb": totals["total_mb"],
        "size_bytes": totals["total_bytes"],
        "file_count": totals["total_files"],
    }
    client = storage.connection.meta.client
    try:
        client.head_bucket(Bucket=storage.bucket_name)
        figures["exists"] = True
        prefix = f"{storage.location}/" if storage.location else ""
        key = f"{prefix}.medikeep-health-{uuid.uuid4().hex}"
        client.put_object(Bucket=storage.bucket_name, Key=key, Body=b"")
        client.delete_object(Bucket=storage.bucket_name, Key=key)
        figures["write_permission"] = True
    except Exception as exc:
        # The class name only: botocore messages can carry the endpoint and key id.
        logger.warning("dashboard: S3 bucket check failed (%s)", type(exc).__name__)
        figures["error"] = f"The bucket cannot be used ({type(exc).__name__})."
    return figures


def files_storage_figures(totals: dict[str, Any] | None = None) -> dict[str, Any]:
    """The entity-file storage: its directory on local disk, its bucket on S3."""
    totals = totals if totals is not None else entity_file_totals()
    storage = file_storage.file_storage()
    location = getattr(storage, "location", None)
    if hasattr(storage, "bucket_name"):
        return _s3_figures(storage, totals)
    return {"backend": "local", **directory_figures(Path(location))}


def storage_health() -> dict[str, Any]:
    """Files storage, backups and logs directories, disk space and the app's own totals.

    "error" when entity files cannot be stored; "warning" when the backups or logs directory
    is unusable or the disk is at least DISK_WARNING_PERCENT full; else "healthy".
    """
    totals = entity_file_totals()
    directories = {
        "uploads": files_storage_figures(totals),
        "backups": directory_figures(backup_directory()),
        "logs": directory_figures(Path(settings.LOG_DIR)),
    }
    disk = disk_space(Path(settings.VAR_DIR))

    def usable(figures: dict) -> bool:
        return bool(figures["exists"] and figures["write_permission"])

    status = "healthy"
    if not usable(directories["backups"]) or not usable(directories["logs"]):
        status = "warning"
    if disk and disk["usage_percent"] >= DISK_WARNING_PERCENT:
        status = "warning"
    if not usable(directories["uploads"]):
        status = "error"
    return {
        "status": status,
        "directories": directories,
        "disk_space": disk,
        "app_storage": totals,
    }


# --- backups ------------------------------------------------------------------------------------

# Archives this server made and that are whole; "uploaded" ones came from elsewhere to be
# restored, "failed" and "created" (still being written) are no backup.
GOOD_BACKUP_STATUSES = (BackupStatus.COMPLETED, BackupStatus.VERIFIED)


def last_backup_at() -> datetime | None:
    """When the newest usable backup was completed; None without one."""
    return (
        Backup.objects.filter(status__in=GOOD_BACKUP_STATUSES, completed_at__isnull=False)
        .order_by("-completed_at")
        .values_list("completed_at", flat=True)
        .first()
    )
