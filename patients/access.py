"""The access rules: the only place that answers "may this user do that on this patient?".

Rules (DESIGN.md §3), each with its reason:
- Levels are ordered VIEW < EDIT < FULL; the owner holds FULL on their own patients.
- A share grants its level while it is active and not past `expires_at`. Expiry is checked in
  the query itself, so a share stops working at that moment even if no cleanup job ran.
- VIEW reads, files included (list, view, download). EDIT also writes records, the files
  attached to them (upload, metadata, delete to the trash) and demographics: a file is part
  of its record's content, so whoever may change the record may attach the letter that
  belongs to it, and the trash keeps a mistaken delete restorable. FULL also manages the
  photo and may invite others at VIEW or EDIT: never above its own level, so a grant can
  never grow by being passed on.
- Emergency links (interop/) hand the patient's summary to someone without an account, so
  making, listing and revoking them, and reading who opened them, need FULL, the level that
  may invite others; a link also stops working when its maker no longer holds FULL.
- Only the owner deletes the patient, revokes or changes other people's shares or transfers
  the record: those end or alter other people's access, which no grantee may decide. For the
  same reason only the owner sees whom the patient is shared with.
- Admins get nothing here: they reach other users' data only through the admin tools, where
  that access is explicit and logged, never by accident through the user endpoints.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from functools import lru_cache

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import DateTimeField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from patients.choices import ShareLevel
from patients.models import Patient, PatientShare

NOT_AUTHORIZED = "You are not authorized to access this patient"


class Level(IntEnum):
    VIEW = 1
    EDIT = 2
    FULL = 3

    @classmethod
    def of_share(cls, share_level: str) -> Level:
        return {ShareLevel.VIEW: cls.VIEW, ShareLevel.EDIT: cls.EDIT, ShareLevel.FULL: cls.FULL}[
            share_level
        ]

    @property
    def share_levels(self) -> list[str]:
        """The share levels that grant at least this level."""
        return [value for value in ShareLevel.values if Level.of_share(value) >= self]

    @property
    def label(self) -> str:
        return self.name.lower()


# Handing the summary to someone without an account (the rule in the module docstring).
EMERGENCY_LINK_LEVEL = Level.FULL


def _accessible_queryset(user_id: int, level: Level, moment: datetime) -> QuerySet:
    shared = PatientShare.objects.in_force(at=moment).filter(
        grantee_id=user_id, level__in=level.share_levels
    )
    return Patient.objects.filter(
        Q(owner_id=user_id) | Q(id__in=shared.values("patient_id"))
    ).values("id")


# Stand-ins for the two values that differ between requests (see _accessible_sql).
_ANY_USER = -2_000_000_011
_ANY_MOMENT = datetime(1901, 2, 3, 4, 5, 6, 789, tzinfo=UTC)


@lru_cache(maxsize=16)
def _accessible_sql(alias: str, level: Level) -> tuple[str, tuple, tuple]:
    """The access subquery's SQL, compiled once per process and level: it scopes every
    request, and building it through the ORM each time cost as much as the rest of a detail
    request. The ORM still writes it, with stand-ins; returns the SQL, its parameters and,
    per parameter, which request value replaces it ("user", "moment" or None)."""
    sql, params = (
        _accessible_queryset(_ANY_USER, level, _ANY_MOMENT).query.get_compiler(alias).as_sql()
    )
    moment = DateTimeField().get_db_prep_value(_ANY_MOMENT, connections[alias])
    slots = tuple(
        "user" if value == _ANY_USER else "moment" if value == moment else None for value in params
    )
    if "user" not in slots or "moment" not in slots:
        raise ImproperlyConfigured("The access subquery's parameters were not recognised.")
    return sql, tuple(params), slots


def accessible_patient_ids(user, level: Level = Level.VIEW):
    """A subquery of the ids of patients `user` may act on at `level` (use as `__in=`)."""
    if not getattr(user, "is_authenticated", False):
        return Patient.objects.none().values("id")
    alias = router.db_for_read(Patient)
    sql, template, slots = _accessible_sql(alias, level)
    values = {
        "user": user.pk,
        "moment": DateTimeField().get_db_prep_value(timezone.now(), connections[alias]),
    }
    params = [values[slot] if slot else value for slot, value in zip(slots, template, strict=True)]
    return RawSQL(sql, params)


def _cache(user) -> dict:
    # The user object lives for one request, so this memo does too.
    cache = getattr(user, "_patient_level_cache", None)
    if cache is None:
        cache = {}
        user._patient_level_cache = cache
    return cache


def level_on(user, patient_id: int) -> Level | None:
    """The user's level on the patient, or None (also for unknown patients)."""
    if not getattr(user, "is_authenticated", False) or patient_id is None:
        return None
    cache = _cache(user)
    if patient_id not in cache:
        owner_id = Patient.objects.filter(pk=patient_id).values_list("owner_id", flat=True).first()
        if owner_id is None:
            level = None
        elif owner_id == user.pk:
            level = Level.FULL
        else:
            share = (
                PatientShare.objects.in_force()
                .filter(patient_id=patient_id, grantee_id=user.pk)
                .values_list("level", flat=True)
                .first()
            )
            level = Level.of_share(share) if share else None
        cache[patient_id] = level
    return cache[patient_id]


def can_access(user, patient_id: int, level: Level = Level.VIEW) -> bool:
    current = level_on(user, patient_id)
    return current is not None and current >= level


def forget(user) -> None:
    """Drops the per-request memo after the user's grants changed within the request."""
    _cache(user).clear()


def require_patient_access(user, patient_id, level: Level = Level.VIEW) -> int:
    """For patient-scoped requests: 404 when the patient does not exist, 403 without access.

    Returns the patient id as an int.
    """
    try:
        patient_id = int(patient_id)
    except (TypeError, ValueError) as exc:
        raise Http404("Patient not found") from exc
    current = level_on(user, patient_id)
    if current is None:
        if not Patient.objects.filter(pk=patient_id).exists():
            raise Http404("Patient not found")
        raise PermissionDenied(NOT_AUTHORIZED)
    if current < level:
        raise PermissionDenied(
            f"Your access to this patient is {current.label}; this needs {level.label}."
        )
    return patient_id


def is_owner(user, patient: Patient) -> bool:
    return getattr(user, "is_authenticated", False) and patient.owner_id == user.pk


def max_grantable_level(user, patient_id: int) -> Level | None:
    """The highest level `user` may grant to others on this patient (FULL grantees: EDIT)."""
    current = level_on(user, patient_id)
    if current is None or current < Level.FULL:
        return None
    patient_owner = Patient.objects.filter(pk=patient_id).values_list("owner_id", flat=True).first()
    return Level.FULL if patient_owner == user.pk else Level.EDIT
