"""A 5-year summary report of a patient with 10,000 records: how long it takes to build.

Usage: .venv/bin/python bench/report_bench.py [--records 10000] [--years 5] [--runs 3]

Works in a fresh folder (MEDIKEEP_VAR_DIR: a new SQLite database and media folder, migrated
first) unless DATABASE_URL names a database, where it adds a new user and patient each run.
It seeds one patient (an accented name) with --records records of many types spread over the
last --years years — 40 % vitals readings (so the report draws its vitals charts), lab
results with three components each, medications, visits, conditions and the rest — then
generates the spec's summary (`report_type` medical_summary, every section, the date range of
the last --years years) through the service the API calls, --runs times, and prints each
run's phases and total. The issue's target: under 5 s.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0
# Shares of the records by type; lab results count their three components too.
MIX = {
    "vitals": 0.40,
    "lab_results": 0.28,  # a quarter results, three quarters their components
    "medications": 0.08,
    "encounters": 0.08,
    "conditions": 0.04,
    "immunizations": 0.03,
    "procedures": 0.03,
    "allergies": 0.015,
    "symptoms": 0.015,
    "treatments": 0.015,
    "injuries": 0.01,
    "medical_equipment": 0.005,
}
NAMES = {
    "medications": ["Lisinopril", "Metformin", "Atorvastatin", "Ibuprofène", "Levothyroxin"],
    "conditions": ["Hypertension", "Asthma", "Migraine", "Diabetes mellitus type 2"],
    "encounters": ["Check-up", "Follow-up", "Kontrolle", "Urgent care visit"],
}


def setup(workdir: Path | None) -> Path | None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    made = None
    if not os.environ.get("DATABASE_URL"):
        made = workdir or Path(tempfile.mkdtemp(prefix="medikeep-report-bench-"))
        os.environ["MEDIKEEP_VAR_DIR"] = str(made)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return made


def _moment(rng: random.Random, start: date, span_days: int):
    from django.utils import timezone

    day = start + timedelta(days=rng.randrange(span_days))
    return timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=8))


def seed(records: int, years: int, rng: random.Random):
    """A user and patient with `records` records over the last `years` years."""
    from django.contrib.auth import get_user_model

    from patients.models import Patient
    from records.reports.categories import categories
    from records.tests import factories

    user = get_user_model().objects.create_user(
        f"report-bench-{time.time_ns()}", "bench@example.org", "bench-Passw0rd!"
    )
    patient = Patient.objects.create(
        owner=user,
        first_name="Zoë",
        last_name="Ångström-Łukasz",
        birth_date=date(1971, 4, 3),
        is_self_record=True,
    )
    span = years * 365
    start = date.today() - timedelta(days=span)
    by_model = {c.model: name for name, c in categories().items()}
    factory_of = {
        by_model[f._meta.model]: f
        for f in vars(factories).values()
        if isinstance(f, type)
        and hasattr(f, "_meta")
        and getattr(f._meta, "model", None) in by_model
    }
    counts: dict[str, int] = {}
    for category, share in MIX.items():
        model = categories()[category].model
        date_field = model.kind.date
        wanted = round(records * share)
        roots = wanted // 4 if category == "lab_results" else wanted
        built = []
        for index in range(roots):
            fields = {"patient": patient}
            if date_field:
                moment = _moment(rng, start, span)
                is_datetime = model._meta.get_field(date_field).get_internal_type() == (
                    "DateTimeField"
                )
                fields[date_field] = moment if is_datetime else moment.date()
            if category in NAMES:
                fields[model.kind.title] = f"{rng.choice(NAMES[category])} {index}"
            if category == "vitals":
                fields.update(
                    systolic_bp=rng.randint(105, 150),
                    diastolic_bp=rng.randint(65, 95),
                    heart_rate=rng.randint(55, 95),
                    weight=round(rng.uniform(150, 170), 1),
                    temperature=round(rng.uniform(97.2, 99.5), 1),
                )
            built.append(factory_of[category].build(**fields))
        saved = model.objects.bulk_create(built, batch_size=1000)
        counts[category] = len(saved)
        if category == "lab_results":
            components = [
                factories.LabTestComponentFactory.build(
                    patient=patient,
                    lab_result=result,
                    test_name=name,
                    unit=unit,
                    value=round(rng.uniform(low, high), 1),
                )
                for result in saved
                for name, unit, low, high in (
                    ("Glucose", "mg/dL", 70, 130),
                    ("LDL cholesterol", "mg/dL", 60, 190),
                    ("Hémoglobine", "g/dL", 11, 17),
                )
            ]
            type(components[0]).objects.bulk_create(components, batch_size=1000)
            counts["lab_test_components"] = len(components)
    return user, patient, counts


def measure(user, patient, years: int) -> dict:
    """One generate through the service, with its phases timed separately afterwards."""
    from django.conf import settings
    from django.core.files.storage import storages

    from records.reports import builder, services
    from records.reports.selection import SpecGenerateSerializer

    end = date.today()
    serializer = SpecGenerateSerializer(
        data={
            "patient_id": patient.pk,
            "report_type": "medical_summary",
            "date_range": {"start": (end - timedelta(days=years * 365)).isoformat(), "end": end},
        }
    )
    serializer.is_valid(raise_exception=True)
    plan = {**serializer.plan(), "patient_id": patient.pk}
    settings.REPORTS_SYNC_MAX_RECORDS = 10**9  # in the request, as a small report would be
    started, cpu_started = time.perf_counter(), time.process_time()
    report = services.report_generate(user=user, plan=plan)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    assert report.status == "done", report.error
    pages = storages["reports"].open(report.storage_key).read().count(b"/Type /Page\n")
    # The phases, once more outside the service (same queries and drawing, no storage).
    phases = {}
    t = time.perf_counter()
    builder.count_records(plan)
    phases["count"] = time.perf_counter() - t
    t = time.perf_counter()
    sections = builder.load_sections(plan)
    phases["load"] = time.perf_counter() - t
    t = time.perf_counter()
    drawings = builder.chart_drawings(plan)
    phases["charts_data"] = time.perf_counter() - t
    t = time.perf_counter()
    flowables = [f for s in sections for f in builder.section_flowables(s)]
    phases["tables"] = time.perf_counter() - t
    t = time.perf_counter()
    from records import pdf

    pdf.write_pdf(io.BytesIO(), title=plan["title"], flowables=drawings + flowables)
    phases["layout_and_write"] = time.perf_counter() - t
    return {
        "total": total,
        "cpu": cpu,
        "records": report.record_count,
        "bytes": report.file_size,
        "pages": pages,
        "charts": len(drawings),
        **phases,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = setup(args.workdir)
    print(f"database: {os.environ.get('DATABASE_URL') or workdir}")
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    t = time.perf_counter()
    user, patient, counts = seed(args.records, args.years, random.Random(args.seed))
    print(f"seeded {sum(counts.values())} records in {time.perf_counter() - t:.1f} s: {counts}")
    totals = []
    for run in range(1, args.runs + 1):
        result = measure(user, patient, args.years)
        totals.append(result["total"])
        phases = ", ".join(
            f"{k} {result[k]:.2f}"
            for k in ("count", "load", "charts_data", "tables", "layout_and_write")
        )
        print(
            f"run {run}: {result['total']:.2f} s (CPU {result['cpu']:.2f} s) for "
            f"{result['records']} records, "
            f"{result['pages']} pages, {result['charts']} charts, "
            f"{result['bytes'] / 1024 / 1024:.1f} MiB (phases: {phases}); "
            f"load {os.getloadavg()[0]:.2f}"
        )
    best, worst = min(totals), max(totals)
    verdict = "met" if worst < TARGET_SECONDS else "NOT met"
    print(f"best {best:.2f} s, worst {worst:.2f} s; target {TARGET_SECONDS:.0f} s {verdict}")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
