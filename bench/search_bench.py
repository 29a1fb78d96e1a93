"""Search at 100,000 records of one user: p50/p99 of GET /search against a raw floor.

Usage: DATABASE_URL=... .venv/bin/python bench/search_bench.py [--records 100000] [--rounds 30]
Seeds (idempotently: it tops up) one user's self-record with records of every type that
stands alone (no required link to another record), spread evenly: names from 60 medical
names, notes of 6 words from 3,000 with a long tail (plus a diagnosis code in one of 5),
tags; then measures a mix of queries (a name, a prefix, a word inside names, a short code,
codes, two words, an accent, a rare and the most common note word, no query, types + sort,
dates; the web app's form with its limit=100, and limit=20; the contract's form):

- the project: each query of the mix through Django's test client (the whole stack: URL
  routing, JWT authentication, throttle, validation, the search, the items' serializers,
  JSON rendering), `--rounds` times, in turn;
- the floor: the very SQL statements the project ran for that request (captured), run on
  the raw database connection, rows turned into JSON with orjson: no framework at all.

Figures are milliseconds; the throttle is lifted for the run. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
USERNAME = "searchbench"
# Record names: what people search for. Each names about 1 record in 60.
NAMES = [
    "Metformin",
    "Atorvastatin",
    "Simvastatin",
    "Rosuvastatin",
    "Lisinopril",
    "Amlodipine",
    "Levothyroxine",
    "Omeprazole",
    "Albuterol",
    "Insulin glargine",
    "Ibuprofen",
    "Aspirin",
    "Prednisone",
    "Amoxicillin",
    "Type 2 diabetes",
    "Hypertension",
    "Asthma",
    "Migraine",
    "Osteoarthritis",
    "Anemia",
    "Eczema",
    "Café au lait spots",
    "Zoë's allergy",
    "Knee pain",
    "Lipid panel",
    "Complete blood count",
    "HbA1c",
    "TSH",
    "Vitamin D",
    "Ferritin",
    "Annual physical",
    "Follow-up visit",
    "Cardiology consult",
    "Physical therapy",
    "Influenza vaccine",
    "Tetanus booster",
    "MMR",
    "Hepatitis B",
    "Blood pressure check",
    "Colonoscopy",
    "Appendectomy",
    "Knee arthroscopy",
    "CPAP machine",
    "Glucose meter",
    "Penicillin",
    "Peanuts",
    "Shellfish",
    "Latex",
    "Pollen",
    "Dust mites",
    "Back pain",
    "Shoulder injury",
    "Ankle sprain",
    "Headache",
    "Fatigue",
    "Nausea",
    "Insomnia",
    "Müller family history",
    "Dental cleaning",
    "Eye exam",
]
CODES = ["E11.9", "I10", "I11.9", "J45.909", "M54.5", "K21.9", "Z00.00", "G43.909", "D64.9"]
# Notes are drawn from 3,000 made-up words with a long tail (a few words are common).
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "su",
    "ta",
    "ri",
    "po",
    "ve",
    "du",
    "sha",
    "qui",
    "bre",
    "zo",
    "fi",
]
WORDS = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})[:3000]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]
TAGS = [[], ["chronic"], ["heart", "chronic"], ["routine"], ["sleep"], ["pain", "as-needed"]]
# name -> query parameters (the web app's form sends patient_id, skip=0 and limit=100).
MIX = {
    "word": {"q": "metformin"},
    "prefix": {"q": "atorv"},
    "inside": {"q": "statin"},
    "short": {"q": "i1"},
    "code": {"q": "E11.9"},
    "two_words": {"q": "knee pain"},
    "accent": {"q": "cafe"},
    "rare": {"q": WORDS[2500]},
    "common": {"q": WORDS[0]},  # the most frequent note word: the worst case
    "no_q": {},
    "types_sort": {"q": "vitamin", "types": "medications,conditions", "sort": "title"},
    "dates": {"q": "knee", "date_from": "2022-01-01", "date_to": "2023-12-31"},
    "word_20": {"q": "metformin", "limit": 20},
    "no_q_20": {"limit": 20},
}
APP_FORM = {"skip": 0, "limit": 100}
SPEC_MIX = {
    "spec_word": {"q": "metformin"},
    "spec_code": {"q": "E11.9"},
    "spec_common": {"q": WORDS[0]},
}


def setup_django() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")
    for scope in ("STANDARD", "SEARCH"):
        os.environ[f"API_RATE_{scope}"] = "1000000/s"
    import django

    django.setup()


def standalone_models() -> list:
    """Record types whose only required link is the patient (seedable by themselves)."""
    from django.db import models

    from records.search.index import indexed_models

    chosen = []
    for model in indexed_models():
        links = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, models.ForeignKey) and not f.null and f.name != "patient"
        ]
        if not links:
            chosen.append(model)
    return chosen


def _factory_for(model):
    from patients.tests.factories import PatientOwnedFactory
    from records.tests import factories  # noqa: F401  (defines them)

    pending = list(PatientOwnedFactory.__subclasses__())
    while pending:
        factory = pending.pop()
        if factory._meta.model is model:
            return factory
        pending.extend(factory.__subclasses__())
    return None


def seed(records: int) -> tuple:
    from django.db import transaction

    from medikeep.accounts.models import User
    from patients.models import Patient
    from records.search.index import reindex

    user = User.objects.filter(username=USERNAME).first() or User.objects.create_user(
        USERNAME, f"{USERNAME}@example.com", "search-Bench-0!"
    )
    patient = Patient.objects.filter(owner=user).first() or Patient.objects.create(
        owner=user, first_name="Zoë", last_name="Bench", birth_date=date(1970, 1, 1)
    )
    models = standalone_models()
    per_model = records // len(models)
    rng = random.Random(16)
    started = time.perf_counter()
    for model in models:
        kind, factory = model.kind, _factory_for(model)
        have = model.objects.filter(patient=patient).count()
        fields = {f.name for f in model._meta.concrete_fields}
        for start in range(have, per_model, 2000):
            rows = []
            for _ in range(start, min(start + 2000, per_model)):
                notes = rng.choices(WORDS, WEIGHTS, k=6)
                if rng.random() < 0.2:
                    notes.append(rng.choice(CODES))
                values = {kind.title: rng.choice(NAMES)}
                if "notes" in fields and kind.title != "notes":
                    values["notes"] = " ".join(notes)
                if kind.date:
                    day = date(2021, 1, 1) + timedelta(days=rng.randrange(1500))
                    field = model._meta.get_field(kind.date)
                    values[kind.date] = (
                        datetime.combine(day, dt_time(9), tzinfo=UTC)
                        if field.get_internal_type() == "DateTimeField"
                        else day
                    )
                if "tags" in fields:
                    values["tags"] = rng.choice(TAGS)
                    values["tag_index"] = f",{','.join(values['tags'])}," if values["tags"] else ""
                rows.append(factory.build(patient=patient, **values))
            with transaction.atomic():
                created = model.objects.bulk_create(rows)
                reindex(model, [row.pk for row in created])
    from django.db import connection

    if connection.vendor == "postgresql":  # fresh rows: give the planner their statistics
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    total = sum(m.objects.filter(patient=patient).count() for m in models)
    print(
        f"seeded: {total} records of {len(models)} types for user {USERNAME!r} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return user, patient


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def floor_run(statements: list[str]) -> None:
    import orjson
    from django.db import connection

    raw = connection.connection  # the driver's own connection: no Django in the way
    out = []
    for sql in statements:
        cursor = raw.cursor()
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        out.append([dict(zip(names, row, strict=True)) for row in cursor.fetchall()])
    orjson.dumps(out, default=str)


def measure(user, patient, rounds: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from medikeep.accounts.tokens import issue_tokens

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user).access_token}")
    mix = {name: {**APP_FORM, "patient_id": patient.pk, **p} for name, p in MIX.items()}
    mix |= {name: {"patient_id": patient.pk, **p} for name, p in SPEC_MIX.items()}
    results, statements = {}, {}
    for name, params in mix.items():  # warm, check, and capture the SQL
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/search/", params)
        assert response.status_code == 200, (name, response.content[:300])
        body = response.json()
        statements[name] = [q["sql"] for q in queries if not q["sql"].startswith("SAVEPOINT")]
        found = body.get("total", body.get("total_count"))
        results[name] = {"found": found, "queries": len(statements[name]), "app": [], "floor": []}
    for _ in range(rounds):
        for name, params in mix.items():
            t0 = time.perf_counter()
            client.get("/api/v1/search/", params)
            t1 = time.perf_counter()
            floor_run(statements[name])
            t2 = time.perf_counter()
            results[name]["app"].append((t1 - t0) * 1000)
            results[name]["floor"].append((t2 - t1) * 1000)
    return results


def report(results: dict) -> None:
    from django.db import connection

    print(f"database: {connection.vendor}; load average {os.getloadavg()[0]:.2f}")
    print(
        f"{'query':<12} {'found':>7} {'sql':>4} {'p50':>7} {'p99':>7} {'floor50':>8} {'floor99':>8}"
    )
    every_app, every_floor = [], []
    for name, r in results.items():
        every_app += r["app"]
        every_floor += r["floor"]
        print(
            f"{name:<12} {r['found']:>7} {r['queries']:>4} "
            f"{statistics.median(r['app']):>7.1f} {percentile(r['app'], 0.99):>7.1f} "
            f"{statistics.median(r['floor']):>8.1f} {percentile(r['floor'], 0.99):>8.1f}"
        )
    print(
        f"{'all':<12} {'':>7} {'':>4} {statistics.median(every_app):>7.1f} "
        f"{percentile(every_app, 0.99):>7.1f} {statistics.median(every_floor):>8.1f} "
        f"{percentile(every_floor, 0.99):>8.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args(argv)
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    user, patient = seed(a.records)
    report(measure(user, patient, a.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
