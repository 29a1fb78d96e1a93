"""Export benchmark: a CSV export of 10,000 and of 100,000 vitals readings of one patient, to
show that memory stays flat (the CSV streams), with the time; JSON the same way, and a PDF of
PDF_MAX_ROWS rows (the largest PDF an export makes).

Usage: .venv/bin/python bench/export_bench.py [--db sqlite:////tmp/medikeep_export_bench.sqlite3]
           [--sizes 10000,100000] [--skip-seed] [--formats csv,json,pdf]

The database is created and migrated when missing (SQLite by default; a postgres:// URL works
too), then one patient per size is seeded with that many readings (bulk_create). Each export
runs in a child process of its own through the real view (DRF request, access check, streaming
response consumed to the end), twice: once for wall time and peak RSS (getrusage), once under
tracemalloc for the peak of Python allocations. Results print as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PY = str(REPO_ROOT / ".venv" / "bin" / "python")
DEFAULT_DB = "sqlite:////tmp/medikeep_export_bench.sqlite3"
USERNAME = "export-bench"


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


def seed(db_url: str, sizes: list[int]) -> None:
    _django(db_url)
    import datetime

    from django.core.management import call_command
    from django.utils import timezone

    from medikeep.accounts.models import User
    from patients.models import Patient
    from records.models import Vitals

    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username=USERNAME, defaults={"email": "b@example.org"})
    start = timezone.now().replace(microsecond=0)
    for size in sizes:
        patient, created = Patient.objects.get_or_create(
            owner=user,
            first_name="Bench",
            last_name=f"Rows{size}",
            defaults={"birth_date": datetime.date(1970, 1, 1)},
        )
        have = Vitals.objects.filter(patient=patient).count()
        batch = []
        for n in range(have, size):
            batch.append(
                Vitals(
                    patient=patient,
                    recorded_date=start - datetime.timedelta(minutes=5 * n),
                    systolic_bp=110 + n % 30,
                    diastolic_bp=70 + n % 15,
                    heart_rate=60 + n % 40,
                    weight=150 + (n % 50) / 10,
                    temperature=97.5 + (n % 20) / 10,
                    notes=f"Reading {n}: after a walk, Zoë's cuff, «ok»",
                )
            )
            if len(batch) == 5000:
                Vitals.objects.bulk_create(batch)
                batch = []
        if batch:
            Vitals.objects.bulk_create(batch)
        print(f"patient {patient.pk}: {size} readings", flush=True)


def measure(db_url: str, size: int, fmt: str, traced: bool) -> None:
    """Child process: one export through the view; prints a JSON line of figures."""
    _django(db_url)
    import resource
    import tracemalloc

    from rest_framework.test import APIRequestFactory, force_authenticate

    from medikeep.accounts.models import User
    from patients.models import Patient
    from records.api.export import ExportDataView
    from records.export import pdf_writer

    user = User.objects.get(username=USERNAME)
    patient = Patient.objects.get(owner=user, last_name=f"Rows{size}")
    if fmt == "pdf":
        pdf_writer.PDF_MAX_ROWS = max(pdf_writer.PDF_MAX_ROWS, size)
    request = APIRequestFactory().get(
        "/api/v1/export/data",
        {"format": fmt, "scope": "vitals", "patient_id": patient.pk, "unit_system": "metric"},
    )
    force_authenticate(request, user=user)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    response = ExportDataView.as_view()(request)
    assert response.status_code == 200, response.status_code
    total = chunks = 0
    first_byte = None
    for chunk in response.streaming_content:
        if first_byte is None:
            first_byte = time.perf_counter() - began
        total += len(chunk)
        chunks += 1
    response.close()
    elapsed = time.perf_counter() - began
    figures = {
        "size": size,
        "format": fmt,
        "seconds": round(elapsed, 2),
        "first_byte_s": round(first_byte or 0, 3),
        "bytes": total,
        "chunks": chunks,
        "baseline_rss_mib": round(baseline / 1024, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if traced:
        figures["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    print(json.dumps(figures))


def _child(db_url: str, size: int, fmt: str, traced: bool) -> dict:
    args = [PY, __file__, "--db", db_url, "--measure", str(size), "--format", fmt]
    if traced:
        args.append("--traced")
    out = subprocess.run(args, cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--formats", default="csv,json,pdf")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--measure", type=int)
    parser.add_argument("--format", default="csv")
    parser.add_argument("--traced", action="store_true")
    options = parser.parse_args()
    if options.measure:
        measure(options.db, options.measure, options.format, options.traced)
        return
    sizes = [int(s) for s in options.sizes.split(",")]
    formats = options.formats.split(",")
    if not options.skip_seed:
        began = time.perf_counter()
        seed(options.db, sizes + ([5000] if "pdf" in formats else []))
        print(f"seeded in {time.perf_counter() - began:.0f} s", flush=True)
    print(f"load average before: {os.getloadavg()}", flush=True)
    rows = []
    plan = [(s, f) for f in formats if f != "pdf" for s in sizes]
    if "pdf" in formats:
        plan.append((5000, "pdf"))
    for size, fmt in plan:
        timed = _child(options.db, size, fmt, traced=False)
        traced = _child(options.db, size, fmt, traced=True)
        timed["tracemalloc_peak_mib"] = traced["tracemalloc_peak_mib"]
        rows.append(timed)
        print(json.dumps(timed), flush=True)
    print(f"load average after: {os.getloadavg()}")
    print()
    print(
        "| format | rows | time (s) | first byte (s) | size (MiB) | peak RSS (MiB) "
        "| RSS before (MiB) | tracemalloc peak (MiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['format']} | {r['size']:,} | {r['seconds']} | {r['first_byte_s']} | "
            f"{r['bytes'] / 2**20:.1f} | {r['peak_rss_mib']} | {r['baseline_rss_mib']} | "
            f"{r['tracemalloc_peak_mib']} |"
        )


if __name__ == "__main__":
    main()
