"""Changes made through the generic model API (/admin/models, /admin/bulk).

Every change runs through the model's ModelAdmin, as a change in the Django admin does:
`save_model` and `delete_model` (so the admin's hooks apply: who created a directory entry, a
record's files going to the trash with it) and `log_addition` / `log_change` /
`log_deletions`, whose LogEntry adminops/audit.py turns into the activity-log row with the
operator. Validation is the model's `full_clean` (the rules the admin and the API share),
limited like the admin's form to the fields that may be written. Users keep their guards
here: the last user, the last active admin and your own account are never deleted, demoted
or deactivated through this API, and passwords change only through `user_password_reset`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.utils import NestedObjects
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, router, transaction
from rest_framework.exceptions import PermissionDenied

from adminops import audit
from adminops.registry import (
    AdminModel,
    is_user_model,
    parse_values,
    readable_fields,
    record_snapshot,
    writable_fields,
)
from adminops.services import entity_type_of
from medikeep.accounts.choices import UserAuthMethod, UserRole
from medikeep.accounts.models import User
from medikeep.accounts.selectors import other_active_admins_exist
from medikeep.accounts.services import validate_new_password
from medikeep.accounts.signals import password_changed
from medikeep.api.exceptions import BusinessRuleError, ConflictError, FieldValidationError
from patients.models import PatientOwnedModel

LAST_USER = "Cannot delete the last user."
LAST_ADMIN = "Cannot delete the last active admin: make another user an admin first."
LAST_ADMIN_DEMOTED = (
    "At least one active admin must remain: make another user an admin before demoting or "
    "deactivating this one."
)
OWN_ACCOUNT_DELETE = "You cannot delete your own account here."
OWN_ACCOUNT_DEMOTE = "You cannot remove your own admin role or deactivate your own account."
SSO_NO_PASSWORD = "This account signs in through SSO and has no password to change."


# --- validation -----------------------------------------------------------------------------


def _validate(entry: AdminModel, request, obj: models.Model, *, creating: bool) -> None:
    """The model's full_clean over the fields that may be written (the admin form's
    exclusions), its clean(), uniqueness and constraints; then the same-patient rule."""
    writable = writable_fields(entry, request, None if creating else obj)
    exclude = [f.name for f in entry.model._meta.concrete_fields if f.name not in writable]
    obj.full_clean(exclude=exclude)
    _check_same_patient(obj)


def _check_same_patient(obj: models.Model) -> None:
    """A record may only point at records of its own patient (the API's rule, DESIGN §4.2)."""
    patient_id = getattr(obj, "patient_id", None)
    if patient_id is None:
        return
    errors = {}
    for fk in type(obj)._meta.concrete_fields:
        target = fk.related_model
        if not (fk.many_to_one or fk.one_to_one) or fk.name == "patient":
            continue
        if not (isinstance(target, type) and issubclass(target, PatientOwnedModel)):
            continue
        value = getattr(obj, fk.attname)
        if value is None:
            continue
        owner = target._base_manager.filter(pk=value).values_list("patient_id", flat=True).first()
        if owner is not None and owner != patient_id:
            errors[fk.attname] = [
                f"{target._meta.verbose_name.capitalize()} {value} belongs to another patient."
            ]
    if errors:
        raise ValidationError(errors)


def _save(entry: AdminModel, request, obj: models.Model, *, change: bool) -> None:
    try:
        with transaction.atomic():
            entry.admin.save_model(request, obj, None, change)
    except IntegrityError as exc:
        raise ConflictError(f"The {entry.name} conflicts with an existing record.") from exc


def _changed_fields(obj: models.Model, before: dict[str, Any]) -> list[models.Field]:
    return [
        f
        for f in readable_fields(type(obj))
        if f.attname in before and before[f.attname] != getattr(obj, f.attname)
    ]


# --- users ----------------------------------------------------------------------------------


def _set_initial_password(user: User, password: Any) -> None:
    if password in (None, ""):
        if user.auth_method == UserAuthMethod.SSO:
            user.set_unusable_password()
            return
        raise FieldValidationError("password", "A new user needs a password.")
    if not isinstance(password, str):
        raise FieldValidationError("password", "The password must be a string.")
    try:
        validate_new_password(password, user)
    except ValidationError as exc:
        raise FieldValidationError("password", " ".join(exc.messages)) from exc
    user.set_password(password)


def _lock_active_admins() -> None:
    # Two operators demoting or deleting the last two admins at once must not both pass
    # the "another admin remains" check: the second waits for the first (PostgreSQL; SQLite
    # has one writer at a time anyway).
    list(User.objects.select_for_update().filter(role=UserRole.ADMIN, is_active=True).values("pk"))


def _check_user_change(request, user: User, before: dict[str, Any]) -> None:
    """Run inside the transaction that saves the change."""
    _lock_active_admins()
    was_admin = before.get("role") == UserRole.ADMIN and before.get("is_active")
    still_admin = user.role == UserRole.ADMIN and user.is_active
    if was_admin and not still_admin:
        if user.pk == request.user.pk:
            raise BusinessRuleError(OWN_ACCOUNT_DEMOTE)
        if not other_active_admins_exist(user):
            raise BusinessRuleError(LAST_ADMIN_DEMOTED)
    elif user.pk == request.user.pk and not user.is_active:
        raise BusinessRuleError(OWN_ACCOUNT_DEMOTE)
    if (
        user.must_change_password
        and not before.get("must_change_password")
        and user.auth_method == UserAuthMethod.SSO
    ):
        raise FieldValidationError("must_change_password", SSO_NO_PASSWORD)


def _check_user_delete(request, user: User) -> None:
    """Run inside the transaction that deletes the user."""
    _lock_active_admins()
    if user.pk == request.user.pk:
        raise BusinessRuleError(OWN_ACCOUNT_DELETE)
    if not User.objects.exclude(pk=user.pk).exists():
        raise BusinessRuleError(LAST_USER)
    if user.role == UserRole.ADMIN and not other_active_admins_exist(user):
        raise BusinessRuleError(LAST_ADMIN)


def user_password_reset(*, entry: AdminModel, request, user: User, new_password: Any) -> None:
    """An admin sets a user's password: the project's validators apply, a forced change is
    cleared, an SSO-only account gains a password (hybrid). The new hash ends every session
    and token of the account (tokens carry a digest of it), and the user is told."""
    if not isinstance(new_password, str) or not new_password:
        raise FieldValidationError("new_password", "A new password is required.")
    try:
        validate_new_password(new_password, user)
    except ValidationError as exc:
        raise FieldValidationError("new_password", " ".join(exc.messages)) from exc
    before = record_snapshot(user)
    user.set_password(new_password)
    user.must_change_password = False
    if user.auth_method == UserAuthMethod.SSO:
        user.auth_method = UserAuthMethod.HYBRID
    with transaction.atomic(), audit.admin_changes(request):
        user.save(update_fields=["password", "must_change_password", "auth_method", "updated_at"])
        audit.remember_before(user, before)
        entry.admin.log_change(request, user, [{"changed": {"fields": ["password"]}}])
        password_changed.send(sender=User, user=user, via="admin_reset")


# --- create, update, delete -----------------------------------------------------------------


def record_create(*, entry: AdminModel, request, data: Any) -> models.Model:
    if not entry.admin.has_add_permission(request):
        raise PermissionDenied(f"Records of {entry.name} cannot be created here.")
    password = None
    if is_user_model(entry.model) and isinstance(data, dict):
        data = dict(data)
        password = data.pop("password", None)
    values = parse_values(entry, request, data)
    obj = entry.model(**values)
    if is_user_model(entry.model):
        _set_initial_password(obj, password)
    _validate(entry, request, obj, creating=True)
    with transaction.atomic(), audit.admin_changes(request):
        _save(entry, request, obj, change=False)
        entry.admin.log_addition(request, obj, [{"added": {}}])
    return obj


def record_update(*, entry: AdminModel, request, obj: models.Model, data: Any) -> models.Model:
    """Applies the fields sent (a partial update, as the web app sends them)."""
    if not entry.admin.has_change_permission(request, obj):
        raise PermissionDenied(f"Records of {entry.name} cannot be changed here.")
    values = parse_values(entry, request, data, obj)
    before = record_snapshot(obj)
    for name, value in values.items():
        setattr(obj, name, value)
    _validate(entry, request, obj, creating=False)
    changed = _changed_fields(obj, before)
    if not changed:
        return obj
    with transaction.atomic(), audit.admin_changes(request):
        if is_user_model(entry.model):
            _check_user_change(request, obj, before)
        _save(entry, request, obj, change=True)
        audit.remember_before(obj, before)
        message = [{"changed": {"fields": [str(f.verbose_name) for f in changed]}}]
        entry.admin.log_change(request, obj, message)
    return obj


@dataclass
class DeletionPlan:
    """What deleting a row takes with it, and what stops it (rows that PROTECT it)."""

    would_delete: dict[str, int] = field(default_factory=dict)
    protected: dict[str, int] = field(default_factory=dict)

    @property
    def can_delete(self) -> bool:
        return not self.protected

    def as_dict(self) -> dict[str, Any]:
        return {
            "can_delete": self.can_delete,
            "would_delete": self.would_delete,
            "protected": self.protected,
        }


def deletion_plan(obj: models.Model) -> DeletionPlan:
    """The cascade Django's collector works out, counted per model (the admin's own
    confirmation page uses the same collector)."""
    collector = NestedObjects(using=router.db_for_write(type(obj)))
    collector.collect([obj])
    would = Counter()
    for model, rows in collector.model_objs.items():
        would[entity_type_of(model)] += len(rows)
    protected = Counter(entity_type_of(type(row)) for row in collector.protected)
    return DeletionPlan(dict(sorted(would.items())), dict(sorted(protected.items())))


def protected_message(entry: AdminModel, obj: models.Model, plan: DeletionPlan) -> str:
    blockers = ", ".join(f"{count} {name}" for name, count in plan.protected.items())
    return (
        f"Cannot delete {entry.name} {obj.pk}: still referred to by {blockers}, which "
        "protect it. Change or delete those first."
    )


def check_deletable(
    entry: AdminModel, request, obj: models.Model, *, refuse_protected: bool = True
) -> DeletionPlan:
    """The plan of a deletion the rules allow; refusals as the API answers them (a row
    that others protect is a 409 unless only the plan is wanted)."""
    if not entry.admin.has_delete_permission(request, obj):
        raise PermissionDenied(f"This {entry.name} cannot be deleted here.")
    if is_user_model(entry.model):
        _check_user_delete(request, obj)
    plan = deletion_plan(obj)
    if refuse_protected and not plan.can_delete:
        raise ConflictError(protected_message(entry, obj, plan))
    return plan


def record_delete(*, entry: AdminModel, request, obj: models.Model) -> DeletionPlan:
    """Deletes one row and what cascades from it, atomically; returns what went."""
    with transaction.atomic():
        plan = check_deletable(entry, request, obj)
        with audit.admin_changes(request):
            entry.admin.log_deletions(request, [obj])
            entry.admin.delete_model(request, obj)
    return plan


# --- bulk -----------------------------------------------------------------------------------


@dataclass
class BulkResult:
    affected: list[Any] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        return "; ".join(
            f"{name}: {' '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
            for name, msgs in detail.items()
        )
    return str(detail if detail is not None else exc)


def _rows_by_pk(entry: AdminModel, request, ids: list[Any]) -> dict[Any, models.Model]:
    return {obj.pk: obj for obj in entry.admin.get_queryset(request).filter(pk__in=ids)}


def _bulk(entry: AdminModel, request, ids: list[Any], apply) -> BulkResult:
    """Applies `apply(obj)` to each row in one transaction, each in its own savepoint: a row
    that fails is reported with the reason and leaves no trace, the others stay applied."""
    from rest_framework.exceptions import APIException

    result = BulkResult()
    with transaction.atomic():
        rows = _rows_by_pk(entry, request, ids)
        for pk in ids:
            obj = rows.get(pk)
            if obj is None:
                result.failed.append({"id": pk, "error": f"No {entry.name} with id {pk}."})
                continue
            try:
                with transaction.atomic():
                    apply(obj)
            except (ValidationError, APIException, IntegrityError, models.ProtectedError) as exc:
                result.failed.append({"id": pk, "error": _error_text(exc)})
            else:
                result.affected.append(pk)
    return result


def bulk_delete(*, entry: AdminModel, request, ids: list[Any]) -> BulkResult:
    return _bulk(
        entry, request, ids, lambda obj: record_delete(entry=entry, request=request, obj=obj)
    )


def bulk_update(*, entry: AdminModel, request, ids: list[Any], data: dict) -> BulkResult:
    # One check of the body for all rows: an unknown field or a bad value is a 422 at once
    # (checked against a real row: a ModelAdmin's read-only fields may depend on it).
    sample = entry.admin.get_queryset(request).filter(pk__in=ids).first()
    if sample is not None:
        parse_values(entry, request, data, sample)
    return _bulk(
        entry,
        request,
        ids,
        lambda obj: record_update(entry=entry, request=request, obj=obj, data=data),
    )
