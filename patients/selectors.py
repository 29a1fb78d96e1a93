"""Reads with rules about patients."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Value, When
from django.http import Http404

from patients.access import Level, accessible_patient_ids, can_access
from patients.models import Patient, PatientShare

NO_PATIENT = "No patient records found for user"


def patients_visible_to(user):
    return Patient.objects.filter(id__in=accessible_patient_ids(user, Level.VIEW))


def best_owned_patient_id(user) -> int | None:
    """The self-record, else the lowest owned id."""
    return (
        Patient.objects.filter(owner_id=user.pk)
        .order_by("-is_self_record", "id")
        .values_list("id", flat=True)
        .first()
    )


def active_patient_id(user, *, persist: bool = True) -> int:
    """The patient that a request without patient_id acts on.

    The stored pointer when the user may still see it; otherwise the best owned patient,
    which is then stored. 404 when the user has no patient at all.
    """
    current = user.active_patient_id
    if current is not None and can_access(user, current, Level.VIEW):
        return current
    resolved = best_owned_patient_id(user)
    if resolved is None:
        raise Http404(NO_PATIENT)
    if persist and resolved != current:
        type(user).objects.filter(pk=user.pk).update(active_patient_id=resolved)
        user.active_patient_id = resolved
    return resolved


def with_permission_level(queryset, user):
    """Annotates `share_level` (the grantee's share level, "owner" for own patients)."""
    shares = PatientShare.objects.in_force().filter(grantee_id=user.pk)
    whens = [
        When(pk__in=shares.filter(level=level).values("patient_id"), then=Value(rank))
        for rank, level in ((3, "full"), (2, "edit"), (1, "view"))
    ]
    return queryset.annotate(
        access_rank=Case(
            When(owner_id=user.pk, then=Value(4)),
            *whens,
            default=Value(0),
            output_field=IntegerField(),
        )
    )
