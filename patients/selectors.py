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


# --- patient management reads (the patient endpoints) --------------------------------------
# Imports stay local to this section so that the module head is left to its owner.

# access_rank (see with_permission_level) -> the permission_level clients see. Owners get
# "full", as in the reference; `is_owner` tells them apart.
PERMISSION_LEVELS = {4: "full", 3: "full", 2: "edit", 1: "view"}


def owned_patients(user):
    return Patient.objects.filter(owner_id=user.pk)


def patient_list(user, *, include_shared: bool = True, search: str = "", level: Level = Level.VIEW):
    """The patients the user may act on at `level` (or only owns), annotated with
    `access_rank`, by id.

    `search` matches every whitespace-separated word against first or last name,
    case-insensitively, so "ali own" finds Alice Owner.
    """
    from django.db.models import Q

    if include_shared:
        queryset = Patient.objects.filter(id__in=accessible_patient_ids(user, level))
    else:
        queryset = owned_patients(user)
    for word in (search or "").split()[:10]:
        queryset = queryset.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
    return with_permission_level(queryset, user).order_by("id")


def patient_counts(queryset, user) -> dict[str, int]:
    """{total, owned, shared} of a patient queryset, in one aggregate query."""
    from django.db.models import Count, Q

    counts = queryset.order_by().aggregate(
        total=Count("id"), owned=Count("id", filter=Q(owner_id=user.pk))
    )
    return {**counts, "shared": counts["total"] - counts["owned"]}


def patient_stats(user) -> dict:
    """Counts of the patients the user may see, in one aggregate query."""
    from django.db.models import Count, Q

    counts = patients_visible_to(user).aggregate(
        total=Count("id"),
        owned=Count("id", filter=Q(owner_id=user.pk)),
        self_records=Count("id", filter=Q(owner_id=user.pk, is_self_record=True)),
    )
    return {
        "total_patients": counts["total"],
        "owned_patients": counts["owned"],
        "shared_patients": counts["total"] - counts["owned"],
        "self_record_exists": counts["self_records"] > 0,
    }


def self_record_of(user) -> Patient | None:
    return Patient.objects.filter(owner_id=user.pk, is_self_record=True).first()


def visible_patient(user, patient_id: int) -> Patient:
    """One patient annotated with the user's `access_rank`; call after the access check."""
    return with_permission_level(Patient.objects.filter(pk=patient_id), user).get()


def _record_count(model, condition=None):
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    rows = model._default_manager.filter(patient_id=OuterRef("pk"))
    if condition is not None:
        rows = rows.filter(condition)
    # COUNT(*), not COUNT(id): PostgreSQL then counts from the patient index alone.
    counted = rows.order_by().values("patient_id").annotate(n=Count("*")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


_PATIENT = -918_273_645  # stand-in for the patient's id in the compiled dashboard query
_DASHBOARD_QUERIES: dict[str, tuple] = {}  # by database alias


def _dashboard_query(alias: str) -> tuple[str, tuple, tuple[str, ...], tuple[str, ...]]:
    """The dashboard counts' SQL, compiled once per process: it is the same for every
    patient but for the id, a stand-in among the parameters (compiling the thirty-odd
    subqueries cost far more than running them). Returns the SQL, its parameters, the
    column names and the keys that add up to total_records."""
    if alias in _DASHBOARD_QUERIES:
        return _DASHBOARD_QUERIES[alias]
    from patients.models import record_models

    counts = {}
    total_keys = []
    for index, model in enumerate(sorted(record_models(), key=lambda m: m._meta.label)):
        key = model.dashboard_key or f"_records_{index}"
        counts[key] = _record_count(model)
        total_keys.append(key)
        for name, condition in model.dashboard_filters.items():
            counts[name] = _record_count(model, condition)
    query = Patient.objects.using(alias).filter(pk=_PATIENT).values(**counts).query
    sql, params = query.get_compiler(alias).as_sql()
    compiled = sql, tuple(params), tuple(query.annotation_select), tuple(total_keys)
    _DASHBOARD_QUERIES[alias] = compiled
    return compiled


def dashboard_stats(patient_id: int) -> dict[str, int]:
    """{patient_id, total_records, <dashboard_key>: n, <dashboard_filters name>: n …}.

    One query whatever the number of record types: each count is a subquery of one SELECT.
    Types come from record_models(), so this never names a record type. Types without a
    dashboard_key still count towards total_records.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    sql, template, names, total_keys = _dashboard_query(DEFAULT_DB_ALIAS)
    params = [patient_id if isinstance(p, int) and p == _PATIENT else p for p in template]
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        raise Http404("Patient not found")
    row = dict(zip(names, found, strict=True))
    stats = {"patient_id": patient_id, "total_records": sum(row[key] for key in total_keys)}
    stats.update({key: value for key, value in row.items() if not key.startswith("_")})
    return stats
