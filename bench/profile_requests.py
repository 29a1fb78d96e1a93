"""In-process cost of the medication list, detail and create: CPU ms per request, or a profile.

Runs the requests through Django's test client (no server, no network), so it shows the cost
of our own request path. CPU time of this process, not wall time: other work on the machine
disturbs it less. Not a benchmark of the deployment: that is bench/compare.py.

Usage (seed first, e.g. into a scratch directory):
    export MEDIKEEP_VAR_DIR=/tmp/medikeep-profile
    .venv/bin/python manage.py migrate
    .venv/bin/python bench/seed.py --username bench --password 'bench-Passw0rd!' --medications 1000
    .venv/bin/python bench/profile_requests.py                 # ms per request, medians
    .venv/bin/python bench/profile_requests.py --profile list  # where the time goes
--profile uses pyinstrument when installed (pip install pyinstrument), else cProfile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--username", default="bench")
    parser.add_argument("--profile", choices=["list", "detail", "create"])
    parser.add_argument("-n", type=int, default=100, help="requests per round (default 100)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from medikeep.accounts.models import User
    from medikeep.accounts.tokens import issue_tokens
    from records.models import Medication

    settings.API_RATES = {scope: "1000000000/min" for scope in settings.API_RATES}
    user = User.objects.get(username=args.username)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user).access_token}")
    patient_id = user.active_patient_id
    ids = Medication.objects.filter(patient_id=patient_id).values_list("id", flat=True)
    record_id = ids[len(ids) // 2]
    body = {"medication_name": "Profiled", "dosage": "10mg", "route": "oral", "tags": ["x"]}
    created: list[int] = []

    def get(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, response.content[:300]

    def create() -> None:
        response = client.post("/api/v1/medications", body, content_type="application/json")
        assert response.status_code == 201, response.content[:300]
        created.append(response.json()["id"])

    cases = {
        "list": lambda: get(f"/api/v1/medications?patient_id={patient_id}&limit=100"),
        "detail": lambda: get(f"/api/v1/medications/{record_id}"),
        "create": create,
    }

    def cpu_ms(call, n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            call()
        return (time.process_time() - start) / n * 1000

    try:
        for call in cases.values():
            cpu_ms(call, 10)  # warm up
        if args.profile:
            profile(lambda: cpu_ms(cases[args.profile], args.n))
            return
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):  # interleaved rounds
            for name, call in cases.items():
                results[name].append(cpu_ms(call, args.n))
        for name, values in results.items():
            print(
                f"{name:7s} {statistics.median(values):6.2f} ms CPU per request "
                f"(median of {args.rounds} rounds of {args.n}; min {min(values):.2f})"
            )
    finally:
        Medication.objects.filter(pk__in=created).delete()


def profile(run) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
        return
    profiler = Profiler(interval=0.0005)
    profiler.start()
    run()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
