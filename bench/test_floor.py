"""The raw floor (bench/floor.py) answers the benchmark endpoints as the project does.

The floor is called in-process on the test database's own connection, beside the project's
answer for the same rows, so that bench/compare.py's ratio compares the same work. No
timing here: speed is measured by compare.py only.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from adminops.models import ActivityLog
from bench.floor import Floor
from records.models import Medication, MedicationDose
from records.tests.factories import (
    MedicationFactory,
    PharmacyFactory,
    PractitionerFactory,
    VitalsFactory,
)

# The floor opens its own transaction for the POST, so no test-wide transaction around it.
pytestmark = pytest.mark.django_db(transaction=True)
NEW_MED = {"medication_name": "Bench create", "dosage": "10mg", "status": "active"}
DAY = datetime(2025, 3, 1, 8, tzinfo=UTC)


@pytest.fixture
def seeded(patient):
    """Medications (one with a practitioner, a pharmacy, tags and dates) and varied vitals."""
    reminded = MedicationFactory(
        patient=patient,
        practitioner=PractitionerFactory(),
        pharmacy=PharmacyFactory(),
        tags=["heart", "chronic"],
        effective_period_start=date(2024, 1, 2),
        reminder_enabled=True,
        reminder_times=["08:00"],
        reminder_days=[0, 3],
    )
    # Dose answers, so that adherence has numbers to match (one outside the 30 days).
    now = datetime.now(UTC)
    for days, status in ((1, "taken"), (4, "taken"), (8, "skipped"), (40, "taken")):
        MedicationDose.objects.create(
            medication=reminded, slot=now - timedelta(days=days), status=status
        )
    MedicationFactory.create_batch(3, patient=patient)
    MedicationFactory(patient=patient, status="stopped", practitioner=PractitionerFactory())
    empty = {"systolic_bp": None, "diastolic_bp": None, "heart_rate": None}
    for days, fields in enumerate(
        [
            {"systolic_bp": 130, "diastolic_bp": 85, "heart_rate": 80, "weight": 200, "height": 70},
            {"systolic_bp": 120, "diastolic_bp": 80, "temperature": 98.6, "pain_scale": 3},
            {"systolic_bp": 111, "diastolic_bp": 71, "weight": 190, "a1c": 5.9},
            {"blood_glucose": 105, "glucose_context": "fasting", "weight": 185.5},
            {"heart_rate": 64, "oxygen_saturation": 97, "respiratory_rate": 14},
        ]
    ):
        VitalsFactory(
            patient=patient, recorded_date=DAY + timedelta(days=days), **{**empty, **fields}
        )
    return patient


def floor_for(user) -> Floor:
    connection.ensure_connection()
    return Floor(connect=lambda: connection.connection, user_id=user.pk)


def call(floor: Floor, method: str, path: str, body: dict | None = None):
    """(status code, JSON) of the floor for one request, through its WSGI interface."""
    path, _, query = path.partition("?")
    data = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "REMOTE_ADDR": "127.0.0.1",
    }
    started = {}
    chunks = floor(environ, lambda status, headers: started.update(status=status))
    return int(started["status"].split()[0]), json.loads(b"".join(chunks))


def keys(value):
    """The nested key structure of a JSON value (lists by their first item)."""
    if isinstance(value, dict):
        return {key: keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return None


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/me",
        "/api/v1/medications/?patient_id={P}&limit=100",
        "/api/v1/medications/{M}",
        "/api/v1/vitals/patient/{P}/stats",
        "/api/v1/patients/me/dashboard-stats",
    ],
)
def test_floor_reads_answer_what_the_project_answers(seeded, alice, alice_api, path):
    medication = Medication.objects.filter(patient=seeded, practitioner__isnull=False).first()
    path = path.format(P=seeded.pk, M=medication.pk)
    project = alice_api.get(path)
    assert project.status_code == 200

    status, floor = call(floor_for(alice), "GET", path)

    assert status == 200
    assert floor == project.json()


def test_floor_health_has_the_project_keys(db, alice, anon):
    project = anon.get("/api/v1/system/health")

    status, floor = call(floor_for(alice), "GET", "/api/v1/system/health")

    assert status == project.status_code == 200
    assert keys(floor) == keys(project.json())


def test_floor_create_answers_and_writes_what_the_project_does(seeded, alice, alice_api):
    project = alice_api.post("/api/v1/medications/", NEW_MED, format="json")
    assert project.status_code == 201

    status, floor = call(floor_for(alice), "POST", "/api/v1/medications/", NEW_MED)

    assert status == 201
    volatile = {"id", "created_at", "updated_at"}
    assert {k: v for k, v in floor.items() if k not in volatile} == {
        k: v for k, v in project.json().items() if k not in volatile
    }
    assert keys(floor) == keys(project.json())
    row = Medication.objects.get(pk=floor["id"])
    assert (row.patient_id, row.medication_name, row.dosage) == (seeded.pk, "Bench create", "10mg")
    # Both writes are audited, as the activity log line is part of the project's cost.
    logged = ActivityLog.objects.filter(entity_type="medication", action="created")
    assert sorted(logged.values_list("entity_id", flat=True)) == [project.json()["id"], row.pk]
    # The project's answer for the floor's row is the floor's answer.
    assert alice_api.get(f"/api/v1/medications/{row.pk}").json() == floor


def test_floor_keeps_other_patients_out(seeded, mallory):
    floor = floor_for(mallory)
    medication = Medication.objects.filter(patient=seeded).first()

    for path in (
        f"/api/v1/medications/?patient_id={seeded.pk}&limit=100",
        f"/api/v1/medications/{medication.pk}",
        f"/api/v1/vitals/patient/{seeded.pk}/stats",
    ):
        assert call(floor, "GET", path)[0] == 404
