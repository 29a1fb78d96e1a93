"""The raw floor: a bare WSGI app that answers the seven benchmark endpoints.

It sends the SQL the project sends for them (written by hand) and answers the same JSON,
with nothing else on the path: no framework, no ORM, no token check (it acts as one fixed
user), no throttle. bench/compare.py measures the project against it; it is a measuring
stick, not a product.

Serve it the way the project is served, e.g.
    FLOOR_USER_ID=1 .venv/bin/python -m granian --interface wsgi --port 8102 bench.floor:application
Database: DATABASE_URL (postgres://… through psycopg, sqlite:///… ) or the SQLite file
$MEDIKEEP_VAR_DIR/medikeep.sqlite3 (default var/), as the project reads them.
The user: FLOOR_USER_ID, or the id of FLOOR_USERNAME (default "bench").
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo

# The schedule maths is pure Python (no settings read when the zone is given): the floor
# does the same work for `adherence.due` as the project, not a cheaper stand-in.
from records.services.dose_schedule import count_slots_between

REPO_ROOT = Path(__file__).resolve().parents[1]
STATUS = {200: "200 OK", 201: "201 Created", 400: "400 Bad Request", 404: "404 Not Found"}
MEASURES = (
    "systolic_bp", "diastolic_bp", "heart_rate", "temperature", "weight", "height", "bmi",
    "oxygen_saturation", "respiratory_rate", "blood_glucose", "a1c", "pain_scale",
)  # fmt: skip
TREND_TOLERANCE = 0.02  # as records/models/vitals.py
# Dashboard counts: (key, table, extra condition); the project sums the total_* ones.
COUNTS = [
    ("total_allergies", "records_allergy", ""),
    ("total_conditions", "records_condition", ""),
    ("active_conditions", "records_condition", "status = 'active'"),
    ("total_emergency_contacts", "records_emergencycontact", ""),
    ("total_encounters", "records_encounter", ""),
    ("total_family_conditions", "records_familycondition", ""),
    ("total_family_members", "records_familymember", ""),
    ("total_gauges", "records_gauge", ""),
    ("total_immunizations", "records_immunization", ""),
    ("total_injuries", "records_injury", ""),
    ("total_insurances", "records_insurance", ""),
    ("total_lab_results", "records_labresult", ""),
    ("total_lab_test_components", "records_labtestcomponent", ""),
    ("total_medical_equipment", "records_medicalequipment", ""),
    ("total_medications", "records_medication", ""),
    ("active_medications", "records_medication", "status = 'active'"),
    ("total_procedures", "records_procedure", ""),
    ("total_symptoms", "records_symptom", ""),
    ("active_symptoms", "records_symptom", "status = 'active'"),
    ("total_symptom_occurrences", "records_symptomoccurrence", ""),
    ("total_treatments", "records_treatment", ""),
    ("total_vitals", "records_vitals", ""),
]
# Patients the user may see (patients/access.py): owned, or shared and not expired.
ACCESS = (
    "SELECT id FROM patients_patient WHERE owner_id = %s OR id IN (SELECT patient_id"
    " FROM patients_patientshare WHERE is_active AND (expires_at IS NULL OR expires_at > %s)"
    " AND grantee_id = %s AND level IN ('view', 'edit', 'full'))"
)
MED_COLUMNS = (
    "id", "patient_id", "medication_name", "alternative_name", "medication_type", "dosage",
    "frequency", "route", "indication", "effective_period_start", "effective_period_end",
    "status", "notes", "side_effects", "tags", "reminder_enabled", "reminder_times",
    "reminder_message", "reminder_days", "practitioner_id",
)  # fmt: skip
# Adherence (records/services/doses.py): answers in the last 30 days, two correlated counts
# whose four parameters (window start, end, start, end) come first.
ADHERENCE_DAYS = 30
DOSE_COUNT = (
    "COALESCE((SELECT COUNT(*) FROM records_medicationdose d WHERE d.medication_id = m.id"
    " AND d.slot >= %s AND d.slot < %s AND d.status = '{}'), 0)"
)
MED_SELECT = (
    "SELECT "
    + ", ".join(f"m.{c}" for c in MED_COLUMNS)
    + ", pr.name, sp.name, m.pharmacy_id, ph.name, ph.brand, m.created_at, m.updated_at, "
    + DOSE_COUNT.format("taken")
    + ", "
    + DOSE_COUNT.format("skipped")
    + " FROM records_medication m"
    " LEFT JOIN records_practitioner pr ON pr.id = m.practitioner_id"
    " LEFT JOIN records_medicalspecialty sp ON sp.id = pr.specialty_id"
    " LEFT JOIN records_pharmacy ph ON ph.id = m.pharmacy_id"
)
TEXT_FIELDS = (
    "medication_name", "alternative_name", "dosage", "frequency", "route", "indication",
    "notes", "side_effects", "reminder_message",
)  # fmt: skip


def connect():
    """A new connection to the database the project's settings would pick."""
    url = os.environ.get("DATABASE_URL", "")
    scheme = urlparse(url).scheme
    if scheme in {"postgres", "postgresql", "pgsql"}:
        import psycopg

        return psycopg.connect(url.replace("pgsql://", "postgresql://", 1), autocommit=True)
    default = Path(os.environ.get("MEDIKEEP_VAR_DIR", REPO_ROOT / "var")) / "medikeep.sqlite3"
    path = default
    if scheme == "sqlite":  # spelled as medikeep/env.py reads it
        path = unquote(urlparse(url).path)
        path = Path(path[1:]) if path.startswith("//") else Path(path or default)
    elif url:
        raise SystemExit(f"DATABASE_URL scheme {scheme!r} is not supported")
    conn = sqlite3.connect(path, timeout=20, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class Db:
    """One connection and the few differences between SQLite and PostgreSQL."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.sqlite = isinstance(conn, sqlite3.Connection)

    def rows(self, sql: str, params=()) -> list[tuple]:
        if self.sqlite:
            return self.conn.execute(sql.replace("%s", "?"), params).fetchall()
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def one(self, sql: str, params=()) -> tuple | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def moment(self, value: datetime):
        """A datetime parameter: SQLite stores naive UTC text (as Django writes it)."""
        return str(value.astimezone(UTC).replace(tzinfo=None)) if self.sqlite else value

    def json(self, value):
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Jsonb

        return Jsonb(value)


def _dt(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value) -> str | None:
    value = _dt(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def _date(value) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _float(value) -> float | None:
    return None if value is None else float(value)


def _access(db: Db, user_id: int) -> tuple[str, tuple]:
    return ACCESS, (user_id, db.moment(datetime.now(UTC)), user_id)


def _may_see(db: Db, user_id: int, patient_id: int) -> bool:
    sql, params = _access(db, user_id)
    found = db.one(
        f"SELECT 1 FROM patients_patient WHERE id = %s AND id IN ({sql})", (patient_id, *params)
    )
    return found is not None


def _active_patient(db: Db, user_id: int) -> tuple | None:
    """(id, first_name, last_name) of the user's active patient, if the user may see it."""
    sql, params = _access(db, user_id)
    return db.one(
        "SELECT p.id, p.first_name, p.last_name FROM accounts_user u"
        " JOIN patients_patient p ON p.id = u.active_patient_id"
        f" WHERE u.id = %s AND p.id IN ({sql})",
        (user_id, *params),
    )


def _window(db: Db) -> tuple[tuple, tuple]:
    """The adherence window and its four query parameters."""
    end = datetime.now(UTC)
    start = end - timedelta(days=ADHERENCE_DAYS)
    return (start, end), (db.moment(start), db.moment(end)) * 2


FACILITY_ZONE = ZoneInfo(os.environ.get("TZ") or "UTC")


def _medication(row: tuple, window: tuple) -> dict:
    m = dict(zip(MED_COLUMNS, row, strict=False))
    for key in ("effective_period_start", "effective_period_end"):
        m[key] = _date(m[key])
    for key in ("tags", "reminder_times", "reminder_days"):
        m[key] = _json(m[key])
    m["reminder_enabled"] = bool(m["reminder_enabled"])
    pr_name, sp_name, pharmacy_id, ph_name, ph_brand, created, updated, taken, skipped = row[
        len(MED_COLUMNS) :
    ]
    m["practitioner"] = (
        {"id": m["practitioner_id"], "name": pr_name, "specialty": sp_name}
        if m["practitioner_id"]
        else None
    )
    m["pharmacy_id"] = pharmacy_id
    m["pharmacy"] = {"id": pharmacy_id, "name": ph_name, "brand": ph_brand} if pharmacy_id else None
    schedule = SimpleNamespace(
        **{key: m[key] for key in ("status", "reminder_enabled", "reminder_times")},
        reminder_days=m["reminder_days"],
        effective_period_start=_day(m["effective_period_start"]),
        effective_period_end=_day(m["effective_period_end"]),
    )
    due = count_slots_between(schedule, *window, zone=FACILITY_ZONE)
    m["adherence"] = {"days": ADHERENCE_DAYS, "due": due, "taken": taken, "skipped": skipped}
    m["created_at"], m["updated_at"] = _iso(created), _iso(updated)
    return m


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# --- the seven endpoints: (db, user_id, environ, *path groups) -> (status, JSON value) ------


def health(db: Db, user_id: int, environ: dict) -> tuple[int, object]:
    db.one("SELECT 1")
    return 200, {
        "status": "healthy",
        "reasons": [],
        "timestamp": _iso(datetime.now(UTC)),
        "app_name": "MediKeep",
        "version": "floor",
        "database": {"status": "ok", "vendor": "sqlite" if db.sqlite else "postgresql"},
        "cache": {"status": "unknown", "backend": "none"},
        "broker": {"status": "unknown", "transport": "none"},
        "worker": {"status": "unknown", "last_seen": None},
        "logging_system": {
            "current_level": "INFO",
            "level_valid": True,
            "categories_configured": 0,
        },  # fmt: skip
    }


def me(db: Db, user_id: int, environ: dict) -> tuple[int, object]:
    keys = (
        "id", "username", "email", "first_name", "last_name", "full_name", "role",
        "auth_method", "is_active", "must_change_password", "active_patient_id",
    )  # fmt: skip
    row = db.one(
        f"SELECT {', '.join(keys)}, created_at, updated_at, last_login"
        " FROM accounts_user WHERE id = %s",
        (user_id,),
    )
    if row is None:
        return 404, {"detail": "no such user"}
    user = dict(zip(keys, row, strict=False))
    user["is_active"], user["must_change_password"] = bool(row[8]), bool(row[9])
    user.update(created_at=_iso(row[11]), updated_at=_iso(row[12]), last_login_at=_iso(row[13]))
    return 200, user


def medication_list(db: Db, user_id: int, environ: dict) -> tuple[int, object]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        patient_id = int(query["patient_id"][0])
        limit = min(int(query.get("limit", ["100"])[0]), 100)
    except (KeyError, ValueError):
        return 400, {"detail": "patient_id (and an integer limit) required"}
    if not _may_see(db, user_id, patient_id):
        return 404, {"detail": "patient not found"}
    # Access checked above: the project's list of one patient reads its rows directly too.
    window, window_params = _window(db)
    rows = db.rows(
        f"{MED_SELECT} WHERE m.patient_id = %s ORDER BY m.created_at DESC, m.id DESC LIMIT %s",
        (*window_params, patient_id, limit),
    )
    return 200, [_medication(row, window) for row in rows]


def medication_detail(db: Db, user_id: int, environ: dict, pk: str) -> tuple[int, object]:
    sql, params = _access(db, user_id)
    window, window_params = _window(db)
    row = db.one(
        f"{MED_SELECT} WHERE m.patient_id IN ({sql}) AND m.id = %s",
        (*window_params, *params, int(pk)),
    )
    return (200, _medication(row, window)) if row else (404, {"detail": "not found"})


def medication_create(db: Db, user_id: int, environ: dict) -> tuple[int, object]:
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(size) or b"{}")
        name = body["medication_name"]
    except (ValueError, KeyError, TypeError):
        return 400, {"detail": "a JSON object with medication_name required"}
    patient = _active_patient(db, user_id)
    if patient is None:
        return 404, {"detail": "no active patient"}
    now = datetime.now(UTC)
    m = {"patient_id": patient[0], **{key: str(body.get(key) or "") for key in TEXT_FIELDS}}
    m.update(
        medication_name=name,
        medication_type=body.get("medication_type") or "prescription",
        status=body.get("status") or "active",
        tags=list(body.get("tags") or []),
        reminder_enabled=False,
        reminder_times=[],
    )
    columns = [*m, "tag_index", "created_at", "updated_at"]
    values = [db.json(v) if isinstance(v, list) else v for v in m.values()]
    values += [f",{','.join(m['tags'])}," if m["tags"] else "", db.moment(now), db.moment(now)]
    db.rows("BEGIN IMMEDIATE" if db.sqlite else "BEGIN")
    try:
        (pk,) = db.one(
            f"INSERT INTO records_medication ({', '.join(columns)})"
            f" VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
            values,
        )
        db.rows("COMMIT")
    except BaseException:
        db.rows("ROLLBACK")
        raise
    # A new medication has no answers yet: its counts are zeros (the project knows it too).
    row = [pk, *[m.get(c) for c in MED_COLUMNS[1:]]] + [None] * 5 + [now, now, 0, 0]
    answer = _medication(row, _window(db)[0])
    # The activity log line, written after the commit as the project does.
    label = f"{patient[1]} {patient[2]}".strip()
    db.rows(
        "INSERT INTO adminops_activitylog (user_id, patient_id, patient_label, action,"
        " entity_type, entity_id, description, metadata, ip_address, timestamp)"
        " VALUES (%s, %s, %s, 'created', 'medication', %s, %s, %s, %s, %s)",
        (
            user_id,
            patient[0],
            label,
            pk,
            f"Created Medication: {name} {m['dosage']}".strip(),
            db.json({"before": None, "after": answer, "changed": []}),
            environ.get("REMOTE_ADDR") or None,
            db.moment(now),
        ),
    )
    return 201, answer


def dashboard(db: Db, user_id: int, environ: dict) -> tuple[int, object]:
    patient = _active_patient(db, user_id)
    if patient is None:
        return 404, {"detail": "no active patient"}
    counts = ", ".join(
        f"(SELECT COUNT(id) FROM {table} WHERE patient_id = %s{' AND ' + cond if cond else ''})"
        for _, table, cond in COUNTS
    )
    row = db.one(f"SELECT {counts}", [patient[0]] * len(COUNTS))
    values = dict(zip((key for key, _, _ in COUNTS), row, strict=True))
    total = sum(n for key, n in values.items() if key.startswith("total_"))
    return 200, {"patient_id": patient[0], "total_records": total, **values}


def _trend(old, new) -> str:
    if old is None or new is None or abs(new - old) <= abs(old) * TREND_TOLERANCE:
        return "stable"
    return "increasing" if new > old else "decreasing"


def vitals_stats(db: Db, user_id: int, environ: dict, patient_id: str) -> tuple[int, object]:
    """The three queries of VitalsQuerySet.stats and the same answer."""
    pid = int(patient_id)
    if not _may_see(db, user_id, pid):
        return 404, {"detail": "patient not found"}
    where = "FROM records_vitals WHERE patient_id = %s"
    arms = [f"SELECT '*', COUNT(id), NULL, NULL, NULL {where}"] + [
        f"SELECT '{m}', COUNT({m}), AVG({m}), MIN({m}), MAX({m}) {where} AND {m} IS NOT NULL"
        for m in MEASURES
    ]
    totals = {r[0]: r[1:] for r in db.rows(" UNION ALL ".join(arms), [pid] * len(arms))}

    def first(column: str, measure: str | None, newest: bool = False) -> str:
        order = "DESC" if newest else "ASC"
        having = f" AND {measure} IS NOT NULL" if measure else ""
        order_by = f"ORDER BY recorded_date {order}, id {order}"
        return f"(SELECT {column} {where}{having} {order_by} LIMIT 1)"

    points = {
        "*__first": first("recorded_date", None),
        "*__last": first("recorded_date", None, True),
        "weight__earliest": first("weight", "weight"),
    }
    for m in MEASURES:
        if totals[m][0]:
            points[f"{m}__first"] = first("recorded_date", m)
            points[f"{m}__last"] = first("recorded_date", m, True)
            points[f"{m}__latest"] = first(m, m, True)
    row = db.one(f"SELECT {', '.join(points.values())}", [pid] * len(points))
    values = dict(zip(points, row, strict=True))
    for key in values:
        if key.endswith(("__first", "__last")):
            values[key] = _dt(values[key])

    thirds, params = [], []
    for m in MEASURES:
        start, end = values.get(f"{m}__first"), values.get(f"{m}__last")
        if totals[m][0] >= 3 and start < end:
            third = (end - start) / 3
            for label, op, bound in (("old", "<=", start + third), ("new", ">=", end - third)):
                having = f"{m} IS NOT NULL AND recorded_date {op} %s"
                thirds.append(f"SELECT '{m}:{label}', AVG({m}) {where} AND {having}")
                params += [pid, db.moment(bound)]
    trends = dict(db.rows(" UNION ALL ".join(thirds), params)) if thirds else {}

    measures = {}
    for m in MEASURES:
        count, average, low, high = totals[m]
        measures[m] = {
            "count": count,
            "average": None if average is None else round(float(average), 1),
            "min": _float(low),
            "max": _float(high),
            "latest": _float(values.get(f"{m}__latest")),
            "first_date": _iso(values.get(f"{m}__first")),
            "latest_date": _iso(values.get(f"{m}__last")),
            "trend": _trend(_float(trends.get(f"{m}:old")), _float(trends.get(f"{m}:new")))
            if count
            else None,
        }
    weight, first_weight = _float(values.get("weight__latest")), _float(values["weight__earliest"])
    bmi, height = _float(values.get("bmi__latest")), _float(values.get("height__latest"))
    bmi_date, weight_date = values.get("bmi__last"), values.get("weight__last")
    if bmi is None or (weight_date is not None and weight_date > bmi_date):
        bmi = (round(703 * weight / (height * height), 1) if weight and height else None) or bmi
    avg = {m: measures[m]["average"] for m in ("systolic_bp", "diastolic_bp", "heart_rate")}
    return 200, {
        "total_readings": totals["*"][0],
        "latest_reading_date": _iso(values["*__last"]),
        "first_reading_date": _iso(values["*__first"]),
        "avg_systolic_bp": avg["systolic_bp"],
        "avg_diastolic_bp": avg["diastolic_bp"],
        "avg_heart_rate": avg["heart_rate"],
        "avg_temperature": measures["temperature"]["average"],
        "current_temperature": _float(values.get("temperature__latest")),
        "current_weight": weight,
        "current_bmi": bmi,
        "weight_change": round(weight - first_weight, 1)
        if weight is not None and first_weight is not None
        else None,
        "current_blood_glucose": _float(values.get("blood_glucose__latest")),
        "current_a1c": _float(values.get("a1c__latest")),
        "blood_pressure_avg": {"systolic": avg["systolic_bp"], "diastolic": avg["diastolic_bp"]},
        "heart_rate_avg": avg["heart_rate"],
        "weight_trend": measures["weight"]["trend"],
        "measures": measures,
    }


ROUTES = [
    ("GET", re.compile(r"/api/v1/system/health"), health),
    ("GET", re.compile(r"/api/v1/users/me"), me),
    ("GET", re.compile(r"/api/v1/medications"), medication_list),
    ("POST", re.compile(r"/api/v1/medications"), medication_create),
    ("GET", re.compile(r"/api/v1/medications/(\d+)"), medication_detail),
    ("GET", re.compile(r"/api/v1/vitals/patient/(\d+)/stats"), vitals_stats),
    ("GET", re.compile(r"/api/v1/patients/me/dashboard-stats"), dashboard),
]


class Floor:
    """The WSGI application: one connection per worker thread, opened once and reused."""

    def __init__(self, connect=connect, user_id: int | None = None) -> None:
        self.connect, self.user_id, self.local = connect, user_id, threading.local()

    def db(self) -> Db:
        db = getattr(self.local, "db", None)
        if db is None:
            db = self.local.db = Db(self.connect())
        if self.user_id is None:
            self.user_id = int(os.environ.get("FLOOR_USER_ID") or 0) or self._user_by_name(db)
        return db

    @staticmethod
    def _user_by_name(db: Db) -> int:
        name = os.environ.get("FLOOR_USERNAME", "bench")
        row = db.one("SELECT id FROM accounts_user WHERE username = %s", (name,))
        if row is None:
            raise SystemExit(f"floor: no user {name!r}; set FLOOR_USER_ID or FLOOR_USERNAME")
        return row[0]

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "").rstrip("/")
        status, value = 404, {"detail": "Not found."}
        for verb, pattern, view in ROUTES:
            if verb == method and (match := pattern.fullmatch(path)):
                db = self.db()
                status, value = view(db, self.user_id, environ, *match.groups())
                break
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(STATUS[status], headers)
        return [body]


application = Floor()
