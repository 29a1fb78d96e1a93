"""Seed a benchmark user with a self-record patient and many medications, vitals and labs.

Usage: .venv/bin/python bench/seed.py --username bench --password 'bench-Passw0rd!' \
           --medications 10000 --vitals 100000 --lab-results 500 --components-per-result 20
Works on whatever database the settings pick (DATABASE_URL, else the SQLite file in
MEDIKEEP_VAR_DIR, default var/). Idempotent: it only tops the counts up, never deletes.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000
BIG_BATCH = 5000  # vitals, lab results and components
MAX_MEDICATIONS = 1_000_000
MAX_VITALS = 2_000_000
MAX_LAB_RESULTS = 100_000
MAX_COMPONENTS_PER_RESULT = 100  # what one bulk request may add; lists page at up to 1000
VITALS_SPAN = timedelta(days=5 * 365)  # readings are spread over the last ~5 years

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
    from records.models import Medication, MedicationRoute, MedicationStatus, MedicationType

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
    from records.search.index import reindex

    have = Medication.objects.filter(patient=patient).count()
    if have >= wanted:
        print(f"patient {patient.pk} already has {have} medications (wanted {wanted}): none added")
        return
    t0 = time.perf_counter()
    for start in range(have, wanted, BATCH):
        rows = medication_rows(patient, start, min(start + BATCH, wanted))
        with transaction.atomic():
            created = Medication.objects.bulk_create(rows, batch_size=BATCH)
            reindex(Medication, [row.pk for row in created])  # no post_save
    added = wanted - have
    took = time.perf_counter() - t0
    print(f"added {added} medications to patient {patient.pk} in {took:.1f} s (now {wanted})")


# --- vitals ---------------------------------------------------------------------------------

DEVICES = ["", "", "Omron M7", "Withings BPM", "Contour Next", "bathroom scale", "pulse oximeter"]
LOCATIONS = ["", "", "home", "home", "clinic", "pharmacy kiosk"]


def vitals_rows(patient, start: int, stop: int, now: datetime) -> list:
    """Unsaved readings start..stop-1. The values of reading i are always the same (seeded by
    i); its date is a random moment of the VITALS_SPAN before `now`.

    Like a real log, most readings carry blood pressure and pulse, fewer a weight, glucose or
    temperature, and height, A1C or pain only now and then. Every value is inside the model's
    range, diastolic is below systolic, and bmi is filled in here, because bulk_create skips
    save(), which normally derives it from weight and height.
    """
    from records.models import Vitals, VitalsGlucoseContext, compute_bmi

    contexts = VitalsGlucoseContext.values
    span = VITALS_SPAN.total_seconds()
    rows = []
    for i in range(start, stop):
        rng = random.Random(i)
        age = rng.random()  # 0 = now, 1 = five years ago
        v = Vitals(
            patient=patient,
            recorded_date=now - timedelta(seconds=int(age * span) + 60),
            notes="benchmark seed data" if i % 50 == 0 else "",
            device_used=DEVICES[i % len(DEVICES)],
            location=LOCATIONS[i % len(LOCATIONS)],
        )
        if rng.random() < 0.65:  # blood pressure, with the pulse the cuff shows
            v.systolic_bp = rng.randint(100, 165)
            v.diastolic_bp = rng.randint(60, min(100, v.systolic_bp - 25))
            v.heart_rate = rng.randint(52, 105)
        if rng.random() < 0.25:
            v.heart_rate = v.heart_rate or rng.randint(52, 105)
            v.oxygen_saturation = rng.randint(92, 100)
            v.respiratory_rate = rng.randint(12, 20)
        if rng.random() < 0.2:
            v.temperature = round(rng.gauss(98.2, 0.6), 1)
        if rng.random() < 0.3:  # weight drifts from ~190 lb (five years ago) to ~175 lb
            v.weight = round(175 + 15 * age + rng.gauss(0, 1.5), 1)
            if rng.random() < 0.1:
                v.height = round(69 + rng.gauss(0, 0.2), 1)
                v.bmi = compute_bmi(v.weight, v.height)
        if rng.random() < 0.3:
            v.blood_glucose = round(rng.uniform(75, 210))
            v.glucose_context = contexts[i % len(contexts)]
        if rng.random() < 0.02:
            v.a1c = round(rng.uniform(5.2, 7.4), 1)
        if rng.random() < 0.05:
            v.pain_scale = rng.randint(0, 8)
        if not v.has_measurement():
            v.heart_rate = rng.randint(52, 105)
        rows.append(v)
    return rows


def top_up_vitals(patient, wanted: int) -> None:
    from django.db import transaction

    from records.models import Vitals
    from records.search.index import reindex

    have = Vitals.objects.filter(patient=patient).count()
    if have >= wanted:
        print(
            f"patient {patient.pk} already has {have} vitals readings (wanted {wanted}): none added"
        )
        return
    t0, now = time.perf_counter(), datetime.now(UTC)
    for start in range(have, wanted, BIG_BATCH):
        rows = vitals_rows(patient, start, min(start + BIG_BATCH, wanted), now)
        with transaction.atomic():
            created = Vitals.objects.bulk_create(rows, batch_size=BIG_BATCH)
            reindex(Vitals, [row.pk for row in created])  # no post_save
    took = time.perf_counter() - t0
    added = wanted - have
    print(f"added {added} vitals readings to patient {patient.pk} in {took:.1f} s (now {wanted})")


# --- lab results and their components --------------------------------------------------------

# (test, category, code) of a lab result; its components are drawn from COMPONENTS.
LAB_TESTS = [
    ("Complete blood count", "hematology", "58410-2"),
    ("Comprehensive metabolic panel", "chemistry", "24323-8"),
    ("Lipid panel", "chemistry", "57698-3"),
    ("Thyroid panel", "chemistry", "TSH-PANEL"),
    ("Hemoglobin A1c", "blood work", "4548-4"),
    ("Liver function tests", "hepatology", "24325-3"),
    ("Urinalysis", "other", "24356-8"),
]
# (name, abbreviation, LOINC, unit, low, high, category); qualitative ones have no unit.
# Both qualitative ones come early, so that a 20-component result has them too.
COMPONENTS = [
    ("White blood cells", "WBC", "6690-2", "10^3/uL", 4.0, 11.0, "hematology"),
    ("Red blood cells", "RBC", "789-8", "10^6/uL", 4.5, 5.9, "hematology"),
    ("Hemoglobin", "HGB", "718-7", "g/dL", 13.5, 17.5, "hematology"),
    ("Hematocrit", "HCT", "4544-3", "%", 41.0, 53.0, "hematology"),
    ("Platelets", "PLT", "777-3", "10^3/uL", 150.0, 400.0, "hematology"),
    ("Urine protein", "UPRO", "2888-6", "", None, None, "other"),
    ("Glucose", "GLU", "2345-7", "mg/dL", 70.0, 99.0, "chemistry"),
    ("Sodium", "NA", "2951-2", "mmol/L", 135.0, 145.0, "chemistry"),
    ("Potassium", "K", "2823-3", "mmol/L", 3.5, 5.1, "chemistry"),
    ("Chloride", "CL", "2075-0", "mmol/L", 98.0, 107.0, "chemistry"),
    ("Creatinine", "CREA", "2160-0", "mg/dL", 0.7, 1.3, "chemistry"),
    ("Blood urea nitrogen", "BUN", "3094-0", "mg/dL", 7.0, 20.0, "chemistry"),
    ("Calcium", "CA", "17861-6", "mg/dL", 8.6, 10.3, "chemistry"),
    ("Urine nitrite", "UNIT", "5802-4", "", None, None, "microbiology"),
    ("Total cholesterol", "CHOL", "2093-3", "mg/dL", 125.0, 200.0, "lipids"),
    ("LDL cholesterol", "LDL", "13457-7", "mg/dL", 0.0, 100.0, "lipids"),
    ("HDL cholesterol", "HDL", "2085-9", "mg/dL", 40.0, 90.0, "lipids"),
    ("Triglycerides", "TRIG", "2571-8", "mg/dL", 0.0, 150.0, "lipids"),
    ("Alanine aminotransferase", "ALT", "1742-6", "U/L", 7.0, 56.0, "hepatology"),
    ("Aspartate aminotransferase", "AST", "1920-8", "U/L", 10.0, 40.0, "hepatology"),
    ("Thyroid stimulating hormone", "TSH", "3016-3", "mIU/L", 0.4, 4.0, "endocrinology"),
    ("Hemoglobin A1c", "A1C", "4548-4", "%", 4.0, 5.6, "endocrinology"),
]
LAB_TAG_SETS = [[], ["annual"], ["bench"], ["fasting", "annual"], ["follow-up"]]


def lab_result_rows(patient, start: int, stop: int, today: date) -> list:
    """Unsaved lab results start..stop-1; mostly completed, spread over the last ~5 years.

    test_code is stored upper-case and tag_index filled in here: bulk_create skips save().
    """
    from records.models import LabResult, LabResultInterpretation, LabResultTestType

    interpretations, test_types = LabResultInterpretation.values, LabResultTestType.values
    rows = []
    for i in range(start, stop):
        rng = random.Random(-1 - i)  # not the vitals' seeds
        name, category, code = LAB_TESTS[i % len(LAB_TESTS)]
        ordered = today - timedelta(days=rng.randrange(5 * 365))
        done = i % 20 != 0  # one in twenty is still pending
        tags = LAB_TAG_SETS[i % len(LAB_TAG_SETS)]
        rows.append(
            LabResult(
                patient=patient,
                test_name=f"{name} #{i}",
                test_code=code.upper(),
                test_category=category,
                test_type=test_types[i % len(test_types)],
                facility="Bench Clinical Laboratory",
                status="completed" if done else ("ordered" if i % 40 == 0 else "in-progress"),
                labs_result=interpretations[i % len(interpretations)] if done else "",
                ordered_date=ordered,
                completed_date=min(today, ordered + timedelta(days=rng.randint(0, 5)))
                if done
                else None,
                notes="benchmark seed data",
                tags=tags,
                tag_index=f",{','.join(tags)}," if tags else "",
            )
        )
    return rows


def canonical_namer():
    """What save() puts in canonical_test_name: the matching test-catalogue entry's name.

    The catalogue is newer than this script: without it the field stays blank, as it did.
    """
    try:
        from records.models.lab_catalogue import match_test
    except ImportError:
        return lambda name, code: ""

    def canonical(name: str, code: str) -> str:
        found = match_test(name, code)
        return found.entry.canonical_name if found else ""

    return canonical


def component_row(lab_result_id: int, patient_id: int, j: int, canonical=None):
    """Unsaved component j of a lab result; the same (lab result, j) always gives the same row.

    status (and canonical_test_name, given `canonical`) are derived here the way save() would
    (bulk_create skips it).
    """
    from records.models import LabTestComponent

    rng = random.Random(lab_result_id * 1000 + j)
    name, abbr, code, unit, low, high, category = COMPONENTS[j % len(COMPONENTS)]
    if j >= len(COMPONENTS):  # more components than the catalogue has: number the repeats
        name, abbr = f"{name} {j // len(COMPONENTS) + 1}", f"{abbr}{j // len(COMPONENTS) + 1}"
    c = LabTestComponent(
        lab_result_id=lab_result_id,
        patient_id=patient_id,  # must be the lab result's patient
        test_name=name,
        abbreviation=abbr,
        test_code=code,
        category=category,
        display_order=j,
    )
    if unit:  # quantitative: mostly in range, sometimes a little outside
        width = high - low
        c.value = round(rng.uniform(low - 0.15 * width, high + 0.15 * width), 2)
        c.unit, c.ref_range_min, c.ref_range_max = unit, low, high
        c.ref_range_text = f"{low:g}-{high:g} {unit}"
    else:
        c.result_type = "qualitative"
        c.qualitative_value = "negative" if rng.random() < 0.85 else "positive"
        c.ref_range_text = "negative"
    c.status = c.derived_status()
    if canonical is not None:
        c.canonical_test_name = canonical(c.test_name, c.test_code)
    return c


def top_up_lab_results(patient, wanted: int, per_result: int) -> None:
    from django.db import transaction
    from django.db.models import Count

    from records.models import LabResult, LabTestComponent
    from records.search.index import reindex

    have = LabResult.objects.filter(patient=patient).count()
    if have >= wanted:
        print(f"patient {patient.pk} already has {have} lab results (wanted {wanted}): none added")
    else:
        t0, today = time.perf_counter(), datetime.now(UTC).date()
        for start in range(have, wanted, BIG_BATCH):
            rows = lab_result_rows(patient, start, min(start + BIG_BATCH, wanted), today)
            with transaction.atomic():
                created = LabResult.objects.bulk_create(rows, batch_size=BIG_BATCH)
                reindex(LabResult, [row.pk for row in created])  # no post_save
        took = time.perf_counter() - t0
        print(f"added {wanted - have} lab results to patient {patient.pk} in {took:.1f} s")
    if per_result <= 0:
        return
    # Every lab result of the patient (seeded or not) is topped up to per_result components.
    short = (
        LabResult.objects.filter(patient=patient)
        .annotate(n=Count("components"))
        .filter(n__lt=per_result)
        .order_by("pk")
        .values_list("pk", "n")
    )
    missing = [(pk, j) for pk, n in short for j in range(n, per_result)]
    if not missing:
        print(f"every lab result of patient {patient.pk} has {per_result}+ components: none added")
        return
    t0, canonical = time.perf_counter(), canonical_namer()
    for start in range(0, len(missing), BIG_BATCH):
        batch = missing[start : start + BIG_BATCH]
        rows = [component_row(pk, patient.pk, j, canonical) for pk, j in batch]
        with transaction.atomic():
            created = LabTestComponent.objects.bulk_create(rows, batch_size=BIG_BATCH)
            reindex(LabTestComponent, [row.pk for row in created])  # no post_save
    took = time.perf_counter() - t0
    print(f"added {len(missing)} lab test components in {took:.1f} s ({per_result} per result)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--email", help="used only when the user is created (default U@example.com)")
    ap.add_argument("--medications", type=int, default=10_000, help="target count (default 10000)")
    ap.add_argument("--vitals", type=int, default=0, help="target vitals readings (default 0)")
    ap.add_argument("--lab-results", type=int, default=0, help="target lab results (default 0)")
    ap.add_argument(
        "--components-per-result",
        type=int,
        default=0,
        help="components each of the patient's lab results is topped up to (default 0)",
    )
    a = ap.parse_args(argv)
    for flag, value, cap in (
        ("--medications", a.medications, MAX_MEDICATIONS),
        ("--vitals", a.vitals, MAX_VITALS),
        ("--lab-results", a.lab_results, MAX_LAB_RESULTS),
        ("--components-per-result", a.components_per_result, MAX_COMPONENTS_PER_RESULT),
    ):
        if not 0 <= value <= cap:
            ap.error(f"{flag} must be 0..{cap}")

    setup_django()
    from django.db import connection

    db = connection.settings_dict
    print(f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
    user = ensure_user(a.username, a.password, a.email or f"{a.username}@example.com")
    patient = ensure_self_patient(user)
    top_up_medications(patient, a.medications)
    top_up_vitals(patient, a.vitals)
    top_up_lab_results(patient, a.lab_results, a.components_per_result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
