"""Medication reminders: the per-minute planner, and the check that a planned one is still wanted.

A slot is one scheduled dose: a local wall-clock time of `reminder_times` ("HH:MM") on a local
day of the facility time zone (settings.TIME_ZONE) allowed by `reminder_days` (0 = Monday;
null or empty = every day) and within the effective period (inclusive dates), of a medication
that is `active` with `reminder_enabled`. Daylight saving follows records/services/
dose_schedule.py: a time the clock skips is taken one gap-length later (02:30 → 03:30), a time
that occurs twice is its first occurrence; a slot is an instant, so two times that land on one
instant are one slot.

Recipients are the patient's owner and every user holding a share in force, each on their own
channels where `medication_reminder_due` is enabled; the reminder goes out
`remind_before_minutes` (per preference) before the dose.

Each tick plans the slots whose send time fell in the last REMINDER_CATCH_UP_MINUTES (so a
missed or late tick loses nothing), one Delivery row per (medication, slot, channel) with
dedup_key "reminder:<medication id>:<slot, UTC ISO>:<channel id>", unique in the database:
planning the same minute again, or two beat processes planning it at once, adds no row. The
work is a handful of queries whatever the number of medications: the candidate slot times are
worked out once per distinct remind_before value, medications are read in one query, and rows
are written in one go that skips existing keys (ON CONFLICT DO NOTHING), in key order (two
concurrent planners then wait on each other instead of deadlocking).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import events
from notifications.models import Delivery, DeliveryStatus, NotificationPreference
from patients.access import Level, can_access
from patients.models import PatientShare

logger = logging.getLogger("medikeep.notifications")

REMINDER_EVENT = "medication_reminder_due"
KEY_PREFIX = "reminder:"
INSERT_BATCH = 2000
# A clock change moves local time by at most this much: the margin around a window when
# local minutes are mapped back to instants.
_CLOCK_CHANGE_MARGIN = dt.timedelta(hours=3)


def facility_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def slot_instant(day: dt.date, hhmm: str, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local day and "HH:MM" (fold=0, see the module's note on DST)."""
    hour, minute = hhmm.split(":")
    local = dt.datetime.combine(day, dt.time(int(hour), int(minute)), tzinfo=zone)
    return local.astimezone(dt.UTC)


def dedup_key(medication_id: int, slot: dt.datetime, channel_id: int) -> str:
    return f"{KEY_PREFIX}{medication_id}:{slot.astimezone(dt.UTC).isoformat()}:{channel_id}"


def candidate_slots(
    low: dt.datetime, high: dt.datetime, zone: ZoneInfo
) -> dict[str, list[tuple[dt.date, dt.datetime]]]:
    """Every local (day, "HH:MM") whose instant lies in (low, high], by "HH:MM".

    Walks the local minutes around the window and keeps those that map back into it: that
    finds the times a clock change skips or repeats, which walking instants would not.
    """
    found: dict[str, list[tuple[dt.date, dt.datetime]]] = defaultdict(list)
    local = (low.astimezone(zone) - _CLOCK_CHANGE_MARGIN).replace(
        tzinfo=None, second=0, microsecond=0
    )
    last = (high.astimezone(zone) + _CLOCK_CHANGE_MARGIN).replace(tzinfo=None)
    step = dt.timedelta(minutes=1)
    while local <= last:
        instant = local.replace(tzinfo=zone).astimezone(dt.UTC)
        if low < instant <= high:
            found[f"{local:%H:%M}"].append((local.date(), instant))
        local += step
    return found


def _allowed_on(day: dt.date, days, start: dt.date | None, end: dt.date | None) -> bool:
    if days and day.weekday() not in days:
        return False
    return not ((start and day < start) or (end and day > end))


def _message(med: dict, slot: dt.datetime, hhmm: str, day: dt.date) -> tuple[dict, str, str]:
    data = {
        "medication_id": med["id"],
        "patient_id": med["patient_id"],
        "medication_name": med["medication_name"],
        "dosage": med["dosage"],
        "patient_name": f"{med['patient__first_name']} {med['patient__last_name']}".strip(),
        "note": med["reminder_message"],
        "scheduled_time": hhmm,
        "scheduled_date": day.isoformat(),
        "scheduled_for": slot.isoformat(),
        "is_test": False,
    }
    title, body = events.render(REMINDER_EVENT, data)
    return data, title, body


def plan(now: dt.datetime | None = None) -> list[int]:
    """Writes the reminder rows due by `now` that do not exist yet; returns the ids of pending
    reminder rows written by this call (or by a planner running at the same time), which the
    caller queues for delivery."""
    from records.models import Medication, MedicationStatus

    now = now or timezone.now()
    zone = facility_zone()
    since = now - dt.timedelta(minutes=settings.REMINDER_CATCH_UP_MINUTES)

    # Who wants reminders where: enabled preferences on enabled channels of active accounts.
    channels_of: dict[int, list[tuple]] = defaultdict(list)
    wanted = NotificationPreference.objects.filter(
        event_type=REMINDER_EVENT,
        is_enabled=True,
        channel__is_enabled=True,
        user__is_active=True,
        channel__user_id=F("user_id"),
    )
    for user_id, *channel in wanted.values_list(
        "user_id", "channel_id", "remind_before_minutes", "channel__name", "channel__channel_type"
    ):
        channels_of[user_id].append(tuple(channel))
    if not channels_of:
        return []

    # The slots whose reminder goes out in (since, now], per remind_before value.
    candidates = {
        before: candidate_slots(
            since + dt.timedelta(minutes=before), now + dt.timedelta(minutes=before), zone
        )
        for before in {channel[1] for channels in channels_of.values() for channel in channels}
    }
    times = sorted({hhmm for slots in candidates.values() for hhmm in slots})
    if not times:
        return []

    # Medications with one of those times: a text match on the JSON list narrows the read
    # (it works alike on SQLite and PostgreSQL); the exact check is below.
    has_time = Q()
    for hhmm in times:
        has_time |= Q(reminder_times__icontains=f'"{hhmm}"')
    medications = Medication.objects.filter(
        has_time, reminder_enabled=True, status=MedicationStatus.ACTIVE
    )
    meds = list(
        medications.order_by("id").values(
            "id",
            "patient_id",
            "patient__owner_id",
            "patient__first_name",
            "patient__last_name",
            "medication_name",
            "dosage",
            "reminder_message",
            "reminder_times",
            "reminder_days",
            "effective_period_start",
            "effective_period_end",
        )
    )
    if not meds:
        return []
    grantees: dict[int, list[int]] = defaultdict(list)
    for patient_id, grantee_id in (
        PatientShare.objects.in_force(at=now)
        .filter(
            patient_id__in=medications.values("patient_id"), grantee_id__in=wanted.values("user_id")
        )
        .values_list("patient_id", "grantee_id")
    ):
        grantees[patient_id].append(grantee_id)

    # Keys already written for this window (a row is written at or after its send time, so
    # after `since`): skipping them here spares the database a conflicting insert each tick.
    instants = {
        slot for slots in candidates.values() for found in slots.values() for _, slot in found
    }
    existing = set(
        Delivery.objects.filter(
            created_at__gte=since - dt.timedelta(minutes=1),
            dedup_key__startswith=KEY_PREFIX,
            scheduled_for__in=sorted(instants),
        ).values_list("dedup_key", flat=True)
    )

    prepare = _Prepared()
    created = timezone.now()  # one stamp for the rows of this tick: the read-back finds them
    rows: dict[str, tuple] = {}
    for med in meds:
        med_times = set(med["reminder_times"] or ())
        days = set(med["reminder_days"] or ())
        recipients = dict.fromkeys([med["patient__owner_id"], *grantees.get(med["patient_id"], ())])
        messages: dict[dt.datetime, tuple] = {}
        for user_id in recipients:
            for channel_id, before, channel_name, channel_type in channels_of.get(user_id, ()):
                slots = candidates[before]
                for hhmm in med_times.intersection(slots):
                    for day, slot in slots[hhmm]:
                        if not _allowed_on(
                            day, days, med["effective_period_start"], med["effective_period_end"]
                        ):
                            continue
                        key = dedup_key(med["id"], slot, channel_id)
                        if key in existing or key in rows:
                            continue
                        if slot not in messages:
                            data, title, body = _message(med, slot, hhmm, day)
                            messages[slot] = (prepare.json(data), title[:255], body)
                        data, title, body = messages[slot]
                        rows[key] = (
                            user_id,
                            channel_id,
                            channel_name,
                            channel_type,
                            REMINDER_EVENT,
                            data,
                            title,
                            body,
                            DeliveryStatus.PENDING.value,
                            False,
                            key,
                            prepare.moment(slot),
                            prepare.moment(slot - dt.timedelta(minutes=before)),
                            0,
                            prepare.moment(now),
                            "",
                            prepare.moment(created),
                        )
    if not rows:
        return []
    _insert_new([rows[key] for key in sorted(rows)])
    # An insert that skips conflicts cannot say which rows it wrote: read them back.
    return list(
        Delivery.objects.filter(
            created_at__gte=created,
            dedup_key__startswith=KEY_PREFIX,
            status=DeliveryStatus.PENDING,
        )
        .order_by("id")
        .values_list("id", flat=True)
    )


# The columns the planner writes, in the order of its row tuples.
_INSERTED = (
    "user",
    "channel",
    "channel_name",
    "channel_type",
    "event_type",
    "event_data",
    "title",
    "body",
    "status",
    "is_test",
    "dedup_key",
    "scheduled_for",
    "send_after",
    "attempt_count",
    "next_attempt_at",
    "error_message",
    "created_at",
)


class _Prepared:
    """Database values for the few distinct datetimes and messages of a tick, made once each.

    SQLite gets what the fields themselves prepare; PostgreSQL's COPY takes aware datetimes
    and JSON text as they are.
    """

    def __init__(self):
        meta = Delivery._meta
        self._copy = connection.vendor == "postgresql"
        self._moment_field = meta.get_field("scheduled_for")
        self._json_field = meta.get_field("event_data")
        self._moments: dict[dt.datetime, object] = {}

    def moment(self, value: dt.datetime):
        if value not in self._moments:
            self._moments[value] = (
                value if self._copy else self._moment_field.get_db_prep_save(value, connection)
            )
        return self._moments[value]

    def json(self, value: dict):
        if self._copy:
            return json.dumps(value, cls=DjangoJSONEncoder)
        return self._json_field.get_db_prep_save(value, connection)


def _insert_new(rows: list[tuple]) -> None:
    """Inserts the rows, skipping those whose dedup_key exists (ON CONFLICT DO NOTHING).

    Not bulk_create: building model instances and preparing each value through the ORM cost
    about ten times the insert itself at 100,000 rows (the issue's bench). PostgreSQL gets
    the rows by COPY into a temporary table and one INSERT … SELECT from it (row-by-row
    statements cost a round trip each); SQLite, in process, runs one statement per row. Rows
    go in key order, so two planners inserting the same keys at once wait for each other
    instead of deadlocking.
    """
    meta = Delivery._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(meta.get_field(name).column) for name in _INSERTED)
    conflict = f"ON CONFLICT ({quote(meta.get_field('dedup_key').column)}) DO NOTHING"
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE TEMPORARY TABLE planned_reminders ON COMMIT DROP AS "
                f"SELECT {columns} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY planned_reminders ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM planned_reminders "
                f"ORDER BY {quote(meta.get_field('dedup_key').column)} {conflict}"
            )
            # ON COMMIT DROP is only for a failure: inside a caller's transaction the commit
            # may be far off, and the next tick of the same connection needs the name again.
            cursor.execute("DROP TABLE planned_reminders")
            return
        marks = ", ".join(["%s"] * len(_INSERTED))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) {conflict}"
        for start in range(0, len(rows), INSERT_BATCH):
            cursor.executemany(sql, rows[start : start + INSERT_BATCH])


def text_to_send(delivery: Delivery) -> tuple[str, str]:
    """A planned reminder's title and body as sent: re-rendered with the recipient's own
    "taken" and "skipped" links (records/services/doses.py) when they may answer (EDIT).

    The links are made at send time: they are credentials, so the history does not keep
    them, and signing two per row would cost the planner more than everything else it does.
    """
    from records.services.doses import dose_answer_url

    data = dict(delivery.event_data or {})
    slot, user = delivery.scheduled_for, delivery.user
    medication_id, patient_id = data.get("medication_id"), data.get("patient_id")
    if slot is None or user is None or medication_id is None or patient_id is None:
        return delivery.title, delivery.body
    if not can_access(user, patient_id, Level.EDIT):
        return delivery.title, delivery.body
    taken = dose_answer_url(medication_id, slot, user.pk, "taken")
    skipped = dose_answer_url(medication_id, slot, user.pk, "skipped")
    data.update(answer_taken_url=taken, answer_skipped_url=skipped)
    title, body = events.render(REMINDER_EVENT, data)
    return title[:255], body


def _is_slot(med, instant: dt.datetime, zone: ZoneInfo) -> bool:
    """Whether `instant` is still one of the medication's slots (its times may have changed)."""
    local_day = instant.astimezone(zone).date()
    days = set(med.reminder_days or ())
    for day in (local_day - dt.timedelta(days=1), local_day, local_day + dt.timedelta(days=1)):
        if not _allowed_on(day, days, med.effective_period_start, med.effective_period_end):
            continue
        for hhmm in med.reminder_times or ():
            try:
                if slot_instant(day, hhmm, zone) == instant:
                    return True
            except ValueError:
                continue
    return False


def unwanted_reason(delivery: Delivery, now: dt.datetime) -> str | None:
    """Why a planned reminder should not go out any more, or None."""
    from records.models import Medication, MedicationStatus

    data = delivery.event_data or {}
    med = Medication.objects.filter(pk=data.get("medication_id")).first()
    if med is None:
        return "The medication was deleted."
    if med.status != MedicationStatus.ACTIVE:
        return "The medication is no longer active."
    if not med.reminder_enabled:
        return "Reminders were turned off for this medication."
    if not can_access(delivery.user, med.patient_id):
        return "The recipient no longer has access to this patient."
    slot = delivery.scheduled_for
    if slot is not None:
        if not _is_slot(med, slot, facility_zone()):
            return "The medication's reminder schedule changed."
        if now > slot + dt.timedelta(minutes=settings.REMINDER_STALE_MINUTES):
            return "Too late: the dose time passed long ago."
    return None
