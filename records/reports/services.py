"""Generating, storing, listing and deleting custom reports.

The GeneratedReport row is the record of the work: a request writes it (status pending) and
then either builds the PDF at once (small reports) or queues a Celery task with its id (large
ones). Whoever builds it first claims the row (status running, attempts + 1, started_at); a
worker that dies leaves the row running, and the sweeper queues it again once its lease has
run out, until the attempts are used up. So a lost message or a killed worker loses nothing.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from medikeep.api.exceptions import FieldValidationError
from records.models.reports import GeneratedReport, ReportStatus
from records.reports.builder import build_report, count_records
from records.reports.categories import categories

logger = logging.getLogger("medikeep")

# A build holds its row this long; after it the sweeper hands the row to another worker.
LEASE_SECONDS = 15 * 60
MAX_ATTEMPTS = 3
# A pending row's own queued task gets this long before the sweeper queues another.
SWEEP_GRACE_SECONDS = 120
SWEEP_LIMIT = 200
# Bigger PDFs are spooled to a temporary file instead of memory while they are built.
SPOOL_BYTES = 16 * 1024 * 1024


def report_storage() -> Storage:
    """storages["reports"], looked up per call so override_settings(STORAGES=…) applies."""
    return storages["reports"]


def check_records_belong(plan: dict) -> None:
    """Every selected id must be a record of the plan's patient: 422 naming the others (an id
    of another patient's record reads exactly like an id that does not exist)."""
    problems = []
    for index, item in enumerate(plan["sections"]):
        ids = item["record_ids"]
        if ids is None:
            continue
        model = categories()[item["category"]].model
        found = set(
            model.objects.for_patient(plan["patient_id"])
            .filter(pk__in=ids)
            .values_list("pk", flat=True)
        )
        missing = [pk for pk in ids if pk not in found]
        if missing:
            shown = ", ".join(str(pk) for pk in missing[:20])
            more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
            problems.append(
                (index, f"No {item['category']} record of this patient has id {shown}{more}.")
            )
    if problems:
        index, message = problems[0]
        raise FieldValidationError(f"selected_records[{index}].record_ids", message)


def report_generate(*, user, plan: dict, may_queue: bool = True) -> GeneratedReport:
    """Writes the report row; builds it now when small (or when the caller cannot take a
    queued answer: `may_queue` False), else queues it. Returns the row (done, or pending with
    its task queued once the transaction commits)."""
    check_records_belong(plan)
    expected = count_records(plan)
    report = GeneratedReport.objects.create(
        user=user,
        patient_id=plan["patient_id"],
        title=plan["title"],
        report_type=plan["report_type"],
        request=plan,
        record_count=expected,
    )
    if may_queue and expected > settings.REPORTS_SYNC_MAX_RECORDS:
        enqueue(report.pk)
        return report
    report_build(report.pk, final=True)
    report.refresh_from_db()
    return report


def enqueue(report_id: int) -> None:
    from records.tasks import generate_report

    transaction.on_commit(lambda: generate_report.delay(report_id))


def _claimable(now) -> Q:
    lease_over = now - timedelta(seconds=LEASE_SECONDS)
    return Q(status=ReportStatus.PENDING) | Q(
        status=ReportStatus.RUNNING, started_at__lt=lease_over
    )


def report_build(report_id: int, *, final: bool = False) -> str:
    """Claims and builds one report. Returns "done", "failed", "retry" or "skipped" (another
    worker holds it, or it is finished). `final`: a failure is not retried (the caller is
    the request itself, which answers it)."""
    now = timezone.now()
    claimed = (
        GeneratedReport.objects.filter(pk=report_id)
        .filter(_claimable(now))
        .update(status=ReportStatus.RUNNING, started_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    report = GeneratedReport.objects.get(pk=report_id)
    ours = GeneratedReport.objects.filter(pk=report_id, status=ReportStatus.RUNNING, started_at=now)
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            record_count = build_report(report.request, spool)
            size = spool.tell()
            spool.seek(0)
            name = f"{report.user_id}/{report.pk}-{secrets.token_hex(8)}.pdf"
            stored = report_storage().save(name, File(spool, name=name))
    except Exception as exc:
        logger.exception("Report %s failed (attempt %s)", report_id, report.attempts)
        gave_up = final or report.attempts >= MAX_ATTEMPTS
        ours.update(
            status=ReportStatus.FAILED if gave_up else ReportStatus.PENDING,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now() if gave_up else None,
        )
        if final:
            raise
        return "failed" if gave_up else "retry"
    finished = ours.update(
        status=ReportStatus.DONE,
        storage_key=stored,
        file_size=size,
        record_count=record_count,
        error="",
        finished_at=timezone.now(),
    )
    if not finished:
        # The lease ran out and another worker took the row over: its PDF is the one kept.
        report_storage().delete(stored)
        return "skipped"
    return "done"


def reports_sweep(now=None) -> dict:
    """Queues rows a lost task left pending and rows whose build outlived its lease; a row
    whose last allowed attempt never finished is marked failed."""
    now = now or timezone.now()
    lease_over = now - timedelta(seconds=LEASE_SECONDS)
    grace = now - timedelta(seconds=SWEEP_GRACE_SECONDS)
    gave_up = GeneratedReport.objects.filter(
        status=ReportStatus.RUNNING, started_at__lt=lease_over, attempts__gte=MAX_ATTEMPTS
    ).update(
        status=ReportStatus.FAILED,
        finished_at=now,
        error=f"The report could not be built in {MAX_ATTEMPTS} attempts (the worker stopped).",
    )
    waiting = Q(status=ReportStatus.PENDING) & (
        Q(started_at__isnull=True, created_at__lt=grace) | Q(started_at__lt=grace)
    )
    stalled = Q(status=ReportStatus.RUNNING, started_at__lt=lease_over)
    ids = list(
        GeneratedReport.objects.filter(waiting | stalled)
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    for report_id in ids:
        enqueue(report_id)
    return {"requeued": len(ids), "failed": gave_up}


def report_delete(*, report: GeneratedReport) -> None:
    """Deletes the row; its bytes follow once the deletion commits (records/reports/receivers)."""
    report.delete()
