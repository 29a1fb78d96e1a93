"""The dose log: recording whether a scheduled dose was taken or skipped, adherence, and the
signed answer links that reminder messages carry.

Rules, each with its reason:
- A dose answers one slot of the medication's schedule (records/services/dose_schedule.py),
  from 7 days back to 1 day ahead: a week covers the doses a person catches up on after a
  few busy days, and a day ahead lets them record tonight's dose before going out; further
  out an answer is a guess, not a record. Times of a schedule that was changed since are no
  longer slots (the log follows the schedule as it is now).
- Answering a slot again through the API changes that answer (one row per slot, so two
  devices answering at once still give one row); a link answers only a slot with no answer
  yet, so a link is used once and a second tap cannot undo a correction made since.
- A link carries (medication, slot, user, action) signed with the secret key and works for
  DOSE_ANSWER_LINK_HOURS. It grants nothing by itself: at use the user must still have EDIT
  on the patient (a share revoked since the reminder ends the link too).
- Adherence covers the last 30 days up to now: `due` counts the slots in that window,
  `taken` and `skipped` the answers for slots in it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied

from medikeep.api.exceptions import BusinessRuleError, FieldValidationError
from patients.access import Level, can_access
from patients.choices import RecordAction
from patients.core.serializers import model_snapshot
from patients.signals import record_changed
from records.models import (
    Medication,
    MedicationDose,
    MedicationDoseSource,
    MedicationDoseStatus,
)
from records.services.dose_schedule import (
    count_slots_between,
    facility_zone,
    has_schedule,
    is_scheduled,
)

ANSWER_DAYS_BACK = 7
ANSWER_DAYS_AHEAD = 1
ADHERENCE_DAYS = 30
LINK_SALT = "records.dose-answer"


# --- recording ---------------------------------------------------------------------------


def check_answerable_slot(medication: Medication, slot: dt.datetime, *, now=None) -> None:
    """422 on `slot` unless it is one of the medication's slots within the answer window."""
    now = now or timezone.now()
    if slot < now - dt.timedelta(days=ANSWER_DAYS_BACK):
        raise FieldValidationError(
            "slot", f"Doses can be recorded up to {ANSWER_DAYS_BACK} days back."
        )
    if slot > now + dt.timedelta(days=ANSWER_DAYS_AHEAD):
        raise FieldValidationError("slot", "Doses can be recorded at most one day ahead.")
    if not has_schedule(medication):
        raise FieldValidationError(
            "slot",
            "This medication has no dose schedule: it needs to be active with reminders on.",
        )
    if not is_scheduled(medication, slot):
        times = ", ".join(medication.reminder_times)
        local = timezone.localtime(slot, facility_zone())
        raise FieldValidationError(
            "slot",
            f"No dose is scheduled at {local.isoformat()} (reminder times {times}, "
            f"{facility_zone().key}, on the reminder days).",
        )


def dose_record(
    *,
    medication: Medication,
    slot: dt.datetime,
    status: str,
    user,
    note: str | None = None,
    ip_address: str | None = None,
) -> tuple[MedicationDose, str]:
    """Records the answer for one slot through the API, checked against the schedule.

    Returns the dose and what happened: "created", "updated" or "unchanged". A note left
    out keeps the stored note; "" clears it.
    """
    check_answerable_slot(medication, slot)
    values = {"status": status, "recorded_by": user, "source": MedicationDoseSource.API}
    if note is not None:
        values["note"] = note
    with transaction.atomic():
        dose, created = MedicationDose.objects.select_for_update().get_or_create(
            medication=medication, slot=slot, defaults=values
        )
        if created:
            _announce(dose, user, RecordAction.CREATED, None, ip_address)
            return dose, "created"
        if dose.status == status and (note is None or dose.note == note):
            return dose, "unchanged"
        before = model_snapshot(dose)
        dose.status = status
        if note is not None:
            dose.note = note
        dose.recorded_by = user
        dose.source = MedicationDoseSource.API
        dose.recorded_at = timezone.now()
        dose.save()
        _announce(dose, user, RecordAction.UPDATED, before, ip_address)
        return dose, "updated"


def _announce(dose: MedicationDose, user, action, before, ip_address) -> None:
    after = model_snapshot(dose)
    patient_id = dose.medication.patient_id
    transaction.on_commit(
        lambda: record_changed.send(
            sender=MedicationDose,
            user=user,
            instance=dose,
            action=action,
            before=before,
            after=after,
            patient_id=patient_id,
            ip_address=ip_address,
        )
    )


# --- adherence ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AdherenceWindow:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def ending(cls, now: dt.datetime | None = None) -> AdherenceWindow:
        """The last ADHERENCE_DAYS days up to now (fixed once per request, for every row)."""
        end = now or timezone.now()
        return cls(end - dt.timedelta(days=ADHERENCE_DAYS), end)


def _answers(window: AdherenceWindow, status: str) -> Subquery:
    counted = (
        MedicationDose.objects.filter(
            medication=OuterRef("pk"), status=status, slot__gte=window.start, slot__lt=window.end
        )
        .order_by()
        .values("medication")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_adherence_counts(queryset: QuerySet, window: AdherenceWindow) -> QuerySet:
    """Adds `doses_taken` and `doses_skipped` in the window, as two correlated counts (no
    join, so no GROUP BY over every column of a medication list)."""
    return queryset.annotate(
        doses_taken=_answers(window, MedicationDoseStatus.TAKEN),
        doses_skipped=_answers(window, MedicationDoseStatus.SKIPPED),
    )


def adherence_of(medication: Medication, window: AdherenceWindow) -> dict:
    """{days, due, taken, skipped} for the window; reads the counts annotated by
    with_adherence_counts, else asks the database (one query, for a single medication)."""
    taken = getattr(medication, "doses_taken", None)
    skipped = getattr(medication, "doses_skipped", None)
    if taken is None or skipped is None:
        counts = MedicationDose.objects.filter(
            medication=medication, slot__gte=window.start, slot__lt=window.end
        ).aggregate(
            taken=Count("pk", filter=Q(status=MedicationDoseStatus.TAKEN)),
            skipped=Count("pk", filter=Q(status=MedicationDoseStatus.SKIPPED)),
        )
        taken, skipped = counts["taken"], counts["skipped"]
    return {
        "days": ADHERENCE_DAYS,
        "due": count_slots_between(medication, window.start, window.end),
        "taken": taken,
        "skipped": skipped,
    }


# --- answer links --------------------------------------------------------------------------


class DoseLinkError(BusinessRuleError):
    error_code = "LINK-400"


LINK_ACTIONS = (MedicationDoseStatus.TAKEN, MedicationDoseStatus.SKIPPED)


@dataclass(frozen=True)
class DoseAnswer:
    medication_id: int
    slot: dt.datetime
    user_id: int
    action: str


def dose_answer_url(medication_id: int, slot: dt.datetime, user_id: int, action: str) -> str:
    """An absolute link (APP_PUBLIC_URL) that records `action` ("taken" or "skipped") for
    this slot as `user_id`, once. For reminder messages; works DOSE_ANSWER_LINK_HOURS."""
    if action not in LINK_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(LINK_ACTIONS)}")
    if slot.tzinfo is None:
        raise ValueError("slot must be an aware datetime")
    payload = {
        "m": int(medication_id),
        "s": int(slot.timestamp()),
        "u": int(user_id),
        "a": str(action),
    }
    token = signing.dumps(payload, salt=LINK_SALT, compress=False)
    return f"{settings.APP_PUBLIC_URL.rstrip('/')}/api/v1/doses/answer?token={token}"


def read_dose_answer(token: str) -> DoseAnswer:
    """The answer a link's token carries; 400 when it is missing, altered or expired."""
    if not token:
        raise DoseLinkError("This dose link has no token: open the link from the reminder.")
    hours = settings.DOSE_ANSWER_LINK_HOURS
    try:
        payload = signing.loads(token, salt=LINK_SALT, max_age=dt.timedelta(hours=hours))
    except signing.SignatureExpired as exc:
        raise DoseLinkError(
            f"This dose link has expired (links work for {hours} hours). "
            "Record the dose in MediKeep instead."
        ) from exc
    except (signing.BadSignature, ValueError) as exc:
        raise DoseLinkError(
            "This dose link is not valid: it is incomplete or was changed. Open it again "
            "from the reminder, or record the dose in MediKeep."
        ) from exc
    try:
        answer = DoseAnswer(
            medication_id=int(payload["m"]),
            slot=dt.datetime.fromtimestamp(int(payload["s"]), tz=dt.UTC),
            user_id=int(payload["u"]),
            action=MedicationDoseStatus(payload["a"]).value,
        )
    except (KeyError, TypeError, ValueError) as exc:  # signed by us, yet not our shape
        raise DoseLinkError("This dose link is not valid.") from exc
    return answer


def dose_link_target(answer: DoseAnswer) -> tuple[Medication, object]:
    """The link's medication and user, re-checked now: the user must still be active and
    have EDIT on the patient (403), the medication must still exist (404)."""
    medication = (
        Medication.objects.select_related("patient").filter(pk=answer.medication_id).first()
    )
    if medication is None:
        raise NotFound("The medication of this link no longer exists.")
    user = get_user_model().objects.filter(pk=answer.user_id, is_active=True).first()
    if user is None or not can_access(user, medication.patient_id, Level.EDIT):
        raise PermissionDenied(
            "The account this link was sent to can no longer change this patient's records."
        )
    return medication, user


def existing_dose(medication: Medication, slot: dt.datetime) -> MedicationDose | None:
    return (
        MedicationDose.objects.select_related("recorded_by")
        .filter(medication=medication, slot=slot)
        .first()
    )


def dose_answer_by_link(
    *, token: str, ip_address: str | None = None
) -> tuple[MedicationDose, bool, DoseAnswer, Medication]:
    """Records the link's answer unless the slot has one already.

    Returns (dose, created, answer, medication); with created False the dose is the answer
    recorded before (by this link, another link or the API), left as it is.
    """
    answer = read_dose_answer(token)
    medication, user = dose_link_target(answer)
    with transaction.atomic():
        dose, created = MedicationDose.objects.get_or_create(
            medication=medication,
            slot=answer.slot,
            defaults={
                "status": answer.action,
                "recorded_by": user,
                "source": MedicationDoseSource.LINK,
            },
        )
        if created:
            _announce(dose, user, RecordAction.CREATED, None, ip_address)
    if not created:  # with who answered, for the page
        dose = existing_dose(medication, answer.slot) or dose
    return dose, created, answer, medication
