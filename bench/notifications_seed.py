"""Data for bench/notifications_bench.py: the planner's population and one user's history.

Everything is written by bulk_create (users with one unusable password hash, one encrypted
channel setting shared by every channel), so 100,000 due reminders take well under a minute
to seed; the users are all named nb-… and can be wiped in one statement on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit, urlunsplit

PREFIX = "nb-"  # every user the bench makes is named nb-…
HISTORY_USER = "nb-history"
BATCH = 5000
# Medications are told apart by `indication`: due now, stopped (due now but not active),
# or active with times away from the tick.
DUE, STOPPED, ELSEWHEN = "bench: due", "bench: stopped", "bench: other times"
NAMES = ["Metformin", "Lisinopril", "Atorvastatin", "Levothyroxine", "Amlodipine", "Omeprazole"]


def ensure_database(url: str) -> None:
    """Creates the bench's PostgreSQL database if it does not exist yet."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"database name {name!r}: letters, digits and _ only")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


# --- the planner's population ---------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    users: int = 8000  # each owns one patient and has `channels` reminder channels
    meds: int = 5  # due medications per patient
    channels: int = 2
    shared: int = 2000  # patients 0..shared-1 are also shared (edit) with the next user
    idle_meds: int = 2  # per patient, alternately stopped-at-the-due-time and other times

    @property
    def due_rows(self) -> int:
        return (self.users + self.shared) * self.meds * self.channels

    def check(self) -> None:
        if self.users < 1 or self.meds < 1 or self.channels < 1 or self.idle_meds < 0:
            raise ValueError("users, meds and channels must be at least 1")
        if not 0 <= self.shared <= self.users or (self.shared and self.users < 2):
            raise ValueError("shared must be between 0 and users (and users >= 2 to share)")


def population_exists(pop: Population) -> bool:
    from notifications.models import NotificationPreference
    from patients.models import PatientShare
    from records.models import Medication

    bench = {"patient__owner__username__startswith": PREFIX}
    return (
        Medication.objects.filter(indication=DUE, **bench).count() == pop.users * pop.meds
        and Medication.objects.filter(indication__in=[STOPPED, ELSEWHEN], **bench).count()
        == pop.users * pop.idle_meds
        and NotificationPreference.objects.filter(user__username__startswith=PREFIX).count()
        == pop.users * pop.channels
        and PatientShare.objects.filter(grantee__username__startswith=PREFIX).count() == pop.shared
    )


def wipe_bench_users() -> None:
    """Deletes the nb-… users and all that hangs off them (the bench's own database only)."""
    from django.db import connection

    from medikeep.accounts.models import User

    if connection.vendor != "postgresql":
        User.objects.filter(username__startswith=PREFIX).delete()
        return
    if User.objects.exclude(username__startswith=PREFIX).exists():
        raise SystemExit("this database has users the bench did not make: not wiping it")
    with connection.cursor() as cursor:  # Django's foreign keys do not cascade in the database
        cursor.execute("TRUNCATE accounts_user CASCADE")


def seed_population(pop: Population, url: str = "http://127.0.0.1:9/hook") -> None:
    """Users, self-record patients, medications, webhook channels to `url`, reminder
    preferences and shares, all by bulk_create. Times are set by schedule_due()."""
    from django.contrib.auth.hashers import make_password

    from medikeep.accounts.models import User
    from medikeep.crypto import encrypt_json
    from notifications.models import NotificationChannel, NotificationPreference
    from notifications.reminders import REMINDER_EVENT
    from patients.models import Patient, PatientShare
    from records.models import Medication

    pop.check()
    password = make_password(None)  # unusable: these users never sign in
    users = User.objects.bulk_create(
        [
            User(username=f"{PREFIX}u{i:06d}", email=f"{PREFIX}u{i:06d}@bench.invalid",
                 password=password, first_name="Bench", last_name=f"User {i}")
            for i in range(pop.users)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    patients = Patient.objects.bulk_create(
        [
            Patient(owner=user, first_name="Bench", last_name=f"Patient {i}",
                    birth_date=date(1950, 1, 1) + timedelta(days=i % 20000), is_self_record=True)
            for i, user in enumerate(users)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    meds = []
    for i, patient in enumerate(patients):
        for j in range(pop.meds + pop.idle_meds):
            kind = DUE if j < pop.meds else (STOPPED, ELSEWHEN)[(j - pop.meds) % 2]
            meds.append(
                Medication(
                    patient=patient,
                    medication_name=f"{NAMES[(i + j) % len(NAMES)]} {j}",
                    dosage=f"{5 * (j + 1)}mg",
                    status="stopped" if kind == STOPPED else "active",
                    indication=kind,
                    reminder_enabled=True,
                    reminder_times=["08:00"],
                    reminder_message="With water, after food.",
                )
            )
    Medication.objects.bulk_create(meds, batch_size=BATCH)
    config = encrypt_json({"url": url, "method": "POST"})  # one token serves every channel
    channels = NotificationChannel.objects.bulk_create(
        [
            NotificationChannel(user=user, name=f"hook {k}", channel_type="webhook",
                                config_encrypted=config)
            for user in users
            for k in range(pop.channels)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user_id=c.user_id, channel=c, event_type=REMINDER_EVENT)
         for c in channels],
        batch_size=BATCH,
    )  # fmt: skip
    PatientShare.objects.bulk_create(
        [
            PatientShare(patient=patients[i], grantee=users[(i + 1) % pop.users], level="edit",
                         granted_by=users[i])
            for i in range(pop.shared)
        ],
        batch_size=BATCH,
    )  # fmt: skip


def minute_now():
    from django.utils import timezone

    return timezone.now().replace(second=0, microsecond=0)


def local_hhmm(moment, minutes: int = 0) -> str:
    from notifications.reminders import facility_zone

    return f"{(moment + timedelta(minutes=minutes)).astimezone(facility_zone()):%H:%M}"


def schedule_due(now) -> None:
    """Sets the bench medications' times so that the tick at `now` finds exactly the due ones:
    `now`'s local minute for due and stopped ones, others 3 h and more away (the planner
    looks back REMINDER_CATCH_UP_MINUTES)."""
    from records.models import Medication

    bench = Medication.objects.filter(patient__owner__username__startswith=PREFIX)
    due, later, evening = local_hhmm(now), local_hhmm(now, 180), local_hhmm(now, 540)
    bench.filter(indication=DUE).update(reminder_times=[due, evening])
    bench.filter(indication=STOPPED).update(reminder_times=[due])
    bench.filter(indication=ELSEWHEN).update(reminder_times=[later, evening])


def point_channels_at(url: str) -> int:
    from medikeep.crypto import encrypt_json
    from notifications.models import NotificationChannel

    return NotificationChannel.objects.filter(user__username__startswith=PREFIX).update(
        config_encrypted=encrypt_json({"url": url, "method": "POST"})
    )


def clear_deliveries() -> None:
    from django.db import connection

    from notifications.models import Delivery

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE notifications_delivery")
    else:
        Delivery.objects.all().delete()


# --- history ---------------------------------------------------------------------------------

# (value, share in 100) of the seeded history: mostly reminders, mostly sent.
HISTORY_EVENTS = [("medication_reminder_due", 85), ("lab_result_available", 8),
                  ("invitation_received", 4), ("password_changed", 3)]  # fmt: skip
HISTORY_STATUSES = [("sent", 93), ("failed", 3), ("cancelled", 3), ("pending", 1)]
HISTORY_DAYS = 90


def _spread(table) -> list[str]:
    return [value for value, share in table for _ in range(share)]


_EVENTS, _STATUSES = _spread(HISTORY_EVENTS), _spread(HISTORY_STATUSES)


def history_mix(i: int) -> tuple[str, str]:
    """Row i's (event type, status). Within each 100 rows the events go through their shares
    and so do the statuses, shifted by one every 100 rows: over each 10,000 rows every event
    has every status in proportion (no correlation between the two filters)."""
    a, b = i % 100, (i // 100) % 100
    return _EVENTS[(a * 37) % 100], _STATUSES[(a * 61 + b) % 100]


def ensure_history_user(password: str):
    from medikeep.accounts.models import User
    from notifications.models import NotificationChannel

    user = User.objects.filter(username=HISTORY_USER).first()
    if user is None:
        user = User.objects.create_user(HISTORY_USER, f"{HISTORY_USER}@bench.invalid", password)
    channel, _ = NotificationChannel.objects.get_or_create(
        user=user, name="phone", defaults={"channel_type": "ntfy", "config_encrypted": "-"}
    )
    return user, channel


def seed_history(user, channel, rows: int, now) -> None:
    """`rows` messages of `user`, one every HISTORY_DAYS/rows, the newest at `now`, events
    and statuses mixed by history_mix."""
    from notifications.models import Delivery

    step = timedelta(days=HISTORY_DAYS) / max(rows, 1)
    created_at = Delivery._meta.get_field("created_at")
    batch = []
    created_at.auto_now_add = False  # the rows carry their own past creation times
    try:
        for i in range(rows):
            event, status = history_mix(i)
            created = now - step * (rows - 1 - i)
            batch.append(
                Delivery(
                    user=user, channel=channel, channel_name=channel.name,
                    channel_type=channel.channel_type, event_type=event,
                    event_data={"n": i}, title=f"{event.replace('_', ' ').capitalize()} #{i}",
                    body=f"Message {i}: Metformin 500mg for Bench Patient at 08:00. " * 3,
                    status=status, attempt_count=1 if status != "pending" else 0,
                    error_message="connection refused" if status == "failed" else "",
                    sent_at=created + timedelta(seconds=2) if status == "sent" else None,
                    created_at=created,
                )
            )  # fmt: skip
            if len(batch) == BATCH:
                Delivery.objects.bulk_create(batch)
                batch = []
        Delivery.objects.bulk_create(batch)
    finally:
        created_at.auto_now_add = True
