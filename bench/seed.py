"""Seed a benchmark user with a self-record patient and many medications.

Usage: .venv/bin/python bench/seed.py --username bench --password 'bench-Passw0rd!' \
           --medications 10000
Works on whatever database the settings pick (DATABASE_URL, else the SQLite file in
MEDIKEEP_VAR_DIR, default var/). Idempotent: it only tops the medication count up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000
MAX_MEDICATIONS = 1_000_000

NAMES = [
    "Atorvastatin", "Levothyroxine", "Metformin", "Lisinopril", "Amlodipine", "Metoprolol",
    "Omeprazole", "Simvastatin", "Losartan", "Albuterol", "Gabapentin", "Hydrochlorothiazide",
    "Sertraline", "Furosemide", "Acetaminophen", "Ibuprofen", "Vitamin D3", "Fish oil",
    "Prednisone", "Amoxicillin", "Escitalopram", "Montelukast", "Rosuvastatin", "Pantoprazole",
]  # fmt: skip
DOSAGES = ["5mg", "10mg", "20mg", "25mg", "40mg", "50mg", "100mg", "250mg", "500mg", "1000 IU"]
FREQUENCIES = ["once daily", "twice daily", "every 8 hours", "as needed", "weekly"]
TAG_SETS = [[], ["chronic"], ["heart", "chronic"], ["bench"], ["sleep"], ["pain", "as-needed"]]


def setup_django() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")
    import django

    django.setup()


def ensure_user(username: str, password: str, email: str):
    from medikeep.accounts.models import User

    user = User.objects.filter(username__iexact=username).first()
    if user is None:
        user = User.objects.create_user(username, email, password)
        print(f"created user {user.username!r} (id {user.pk})")
        return user
    changed = []
    if not user.check_password(password):
        user.set_password(password)
        changed.append("password")
    if not user.is_active:
        user.is_active = True
        changed.append("is_active")
    if user.must_change_password:  # would get in the way of a plain login benchmark
        user.must_change_password = False
        changed.append("must_change_password")
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    note = f"; reset {', '.join(changed)}" if changed else ""
    print(f"reusing user {user.username!r} (id {user.pk}){note}")
    return user


def ensure_self_patient(user):
    from patients.models import Patient

    patient = Patient.objects.filter(owner=user, is_self_record=True).first()
    if patient is None:
        patient = Patient.objects.create(
            owner=user,
            first_name="Bench",
            last_name="Mark",
            birth_date=date(1980, 1, 1),
            is_self_record=True,
        )
        print(f"created self-record patient {patient.pk}")
    else:
        print(f"reusing self-record patient {patient.pk}")
    if user.active_patient_id != patient.pk:
        user.active_patient = patient
        user.save(update_fields=["active_patient", "updated_at"])
        print(f"set active patient to {patient.pk}")
    return patient


def medication_rows(patient, start: int, stop: int) -> list:
    """Unsaved rows number start..stop-1, varied but deterministic (row i is always the same)."""
    from records.choices import MedicationRoute, MedicationStatus, MedicationType
    from records.models import Medication

    statuses, kinds, routes = MedicationStatus.values, MedicationType.values, MedicationRoute.values
    rows = []
    for i in range(start, stop):
        tags = TAG_SETS[i % len(TAG_SETS)]
        rows.append(
            Medication(
                patient=patient,
                medication_name=f"{NAMES[i % len(NAMES)]} #{i}",
                dosage=DOSAGES[i % len(DOSAGES)],
                frequency=FREQUENCIES[i % len(FREQUENCIES)],
                medication_type=kinds[i % len(kinds)],
                route=routes[i % len(routes)],
                status=statuses[i % len(statuses)],
                indication="benchmark seed data",
                tags=tags,
                # bulk_create skips save(), which normally derives this mirror of the tags.
                tag_index=f",{','.join(tags)}," if tags else "",
            )
        )
    return rows


def top_up_medications(patient, wanted: int) -> None:
    from django.db import transaction

    from records.models import Medication

    have = Medication.objects.filter(patient=patient).count()
    if have >= wanted:
        print(f"patient {patient.pk} already has {have} medications (wanted {wanted}): none added")
        return
    t0 = time.perf_counter()
    for start in range(have, wanted, BATCH):
        rows = medication_rows(patient, start, min(start + BATCH, wanted))
        with transaction.atomic():
            Medication.objects.bulk_create(rows, batch_size=BATCH)
    added = wanted - have
    took = time.perf_counter() - t0
    print(f"added {added} medications to patient {patient.pk} in {took:.1f} s (now {wanted})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--email", help="used only when the user is created (default U@example.com)")
    ap.add_argument("--medications", type=int, default=10_000, help="target count (default 10000)")
    a = ap.parse_args(argv)
    if not 0 <= a.medications <= MAX_MEDICATIONS:
        ap.error(f"--medications must be 0..{MAX_MEDICATIONS}")

    setup_django()
    from django.db import connection

    db = connection.settings_dict
    print(f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
    user = ensure_user(a.username, a.password, a.email or f"{a.username}@example.com")
    patient = ensure_self_patient(user)
    top_up_medications(patient, a.medications)
    return 0


if __name__ == "__main__":
    sys.exit(main())
