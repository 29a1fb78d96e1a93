"""Accounts made by an operator: a new user with the role the operator picks, starting either
with their own new self-record or with an existing patient handed over to them.

Handing a patient over is how a family moves a record to the person it describes (a child
who comes of age): the new account becomes its owner and the previous owner keeps EDIT access
through a share. Everything happens in one transaction, and every change is announced with
`record_changed` (activity log, notifications) with the operator as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from medikeep.accounts.choices import UserAuthMethod, UserRole
from medikeep.accounts.models import User, UserPreference
from medikeep.accounts.selectors import email_taken, username_taken
from medikeep.accounts.services import validate_new_password
from medikeep.accounts.signals import user_registered
from medikeep.api.exceptions import BusinessRuleError, ConflictError, FieldValidationError
from patients.choices import RecordAction, ShareLevel
from patients.core.serializers import model_snapshot
from patients.models import Patient, PatientShare
from patients.signals import record_changed

# What the audit keeps of an account: never its password hash.
_USER_AUDIT_FIELDS = ("id", "username", "email", "full_name", "role", "auth_method", "is_active")


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str
    password: str
    role: str = UserRole.USER
    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    link_patient_id: int | None = None


@dataclass
class CreatedUser:
    user: User
    patient: Patient | None
    transferred_from: User | None = None
    shares_kept: list[int] = field(default_factory=list)


def _user_snapshot(user: User) -> dict:
    return {name: getattr(user, name) for name in _USER_AUDIT_FIELDS}


def _announce(*, actor, instance, action, before, after, patient_id=None, ip_address=None):
    transaction.on_commit(
        lambda: record_changed.send(
            sender=type(instance),
            user=actor,
            instance=instance,
            action=action,
            before=before,
            after=after,
            patient_id=patient_id,
            ip_address=ip_address,
        )
    )


def _patient_to_link(patient_id: int) -> Patient:
    patient = Patient.objects.select_related("owner").filter(pk=patient_id).first()
    if patient is None:
        raise FieldValidationError("link_patient_id", f"There is no patient {patient_id}.")
    if patient.is_self_record:
        # A self-record is its owner's own medical record; giving it away would leave them
        # without theirs (the reference then copies their demographics into a new one).
        raise BusinessRuleError(
            f"Patient {patient_id} is the own record of {patient.owner.username}; only a "
            "record that account manages for someone else can be linked to a new account."
        )
    return patient


def _transfer(*, patient: Patient, to: User, actor, ip_address) -> CreatedUser:
    previous_owner = patient.owner
    before = model_snapshot(patient)
    patient.owner = to
    patient.is_self_record = True  # it describes the new account's holder
    patient.save(update_fields=["owner", "is_self_record", "updated_at"])
    _announce(
        actor=actor,
        instance=patient,
        action=RecordAction.UPDATED,
        before=before,
        after=model_snapshot(patient),
        patient_id=patient.pk,
        ip_address=ip_address,
    )
    share, created = PatientShare.objects.update_or_create(
        patient=patient,
        grantee=previous_owner,
        defaults={
            "level": ShareLevel.EDIT,
            "is_active": True,
            "expires_at": None,
            "granted_by": actor,
        },
    )
    _announce(
        actor=actor,
        instance=share,
        action=RecordAction.CREATED if created else RecordAction.UPDATED,
        before=None,
        after=model_snapshot(share),
        patient_id=patient.pk,
        ip_address=ip_address,
    )
    kept = list(
        PatientShare.objects.filter(patient=patient, is_active=True)
        .exclude(grantee=previous_owner)
        .values_list("grantee_id", flat=True)
    )
    return CreatedUser(user=to, patient=patient, transferred_from=previous_owner, shares_kept=kept)


def admin_user_create(*, values: NewUser, actor, ip_address: str | None = None) -> CreatedUser:
    """Creates a local account with the given role, whatever the registration switch says.

    Without `link_patient_id` the account gets its own new self-record, as at registration;
    with it, that patient (not a self-record) becomes the account's own record and its
    previous owner keeps EDIT access. 409 for a taken username or email, 422 for a password
    the validators refuse or an unknown patient, 400 for a self-record. All or nothing.
    """
    patient = _patient_to_link(values.link_patient_id) if values.link_patient_id else None
    user = User(
        username=values.username.strip().lower(),
        email=values.email.strip(),
        first_name=values.first_name.strip(),
        last_name=values.last_name.strip(),
        full_name=values.full_name.strip(),
        role=values.role,
        auth_method=UserAuthMethod.LOCAL,
    )
    if username_taken(user.username):
        raise ConflictError("Username already exists.")
    if email_taken(user.email):
        raise ConflictError("Email address already registered.")
    user.full_clean(exclude=["password"], validate_constraints=False)
    try:
        validate_new_password(values.password, user)
    except ValidationError as exc:
        raise FieldValidationError("password", " ".join(exc.messages)) from exc
    user.set_password(values.password)
    try:
        with transaction.atomic():
            user.save()
            UserPreference.objects.create(user=user)
            _announce(
                actor=actor,
                instance=user,
                action=RecordAction.CREATED,
                before=None,
                after=_user_snapshot(user),
                ip_address=ip_address,
            )
            result = CreatedUser(user=user, patient=None)
            if patient is not None:
                # Lock the patient: a concurrent transfer or deletion waits for us.
                patient = (
                    Patient.objects.select_for_update().select_related("owner").get(pk=patient.pk)
                )
                result = _transfer(patient=patient, to=user, actor=actor, ip_address=ip_address)
            # Registration's receivers: a new self-record unless one was just handed over.
            user_registered.send(sender=User, user=user, invited=False)
            if result.patient is None:
                result.patient = Patient.objects.filter(owner=user, is_self_record=True).first()
            type(user).objects.filter(pk=user.pk).update(
                active_patient_id=result.patient.pk if result.patient else None
            )
            user.active_patient_id = result.patient.pk if result.patient else None
    except IntegrityError as exc:  # a concurrent request took the name first
        raise ConflictError("Username or email already exists.") from exc
    return result
