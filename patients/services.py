"""Changes to patients: create, update, delete, the self-record, the active patient, the photo.

Every patient change is announced with `record_changed` once the transaction commits, with the
same arguments as the record base (patients/core/views.py), so the activity log and
notifications see patients like any record.
"""

from __future__ import annotations

import logging
from datetime import date

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from medikeep.accounts.models import split_full_name
from medikeep.api.exceptions import BusinessRuleError, ConflictError, FieldValidationError
from patients import photos
from patients.access import Level, can_access, require_patient_access
from patients.choices import RecordAction
from patients.core.serializers import model_snapshot
from patients.models import Patient, PatientPhoto
from patients.selectors import best_owned_patient_id
from patients.signals import record_changed

logger = logging.getLogger("medikeep.patients")

SELF_RECORD_EXISTS = "You already have a self-record. Only one self-record per user is allowed."
PATIENT_RECORD_EXISTS = "Patient record already exists"
LAST_PATIENT = "Cannot delete your last remaining patient record."
PLACEHOLDER_FIRST_NAME = "Update"
PLACEHOLDER_LAST_NAME = "Your Name"
PLACEHOLDER_AGE_YEARS = 25
# Set only when a patient is created; a patient never stops or starts being the self-record.
_NOT_UPDATABLE = {"id", "owner", "owner_id", "is_self_record", "created_at", "updated_at"}


def _announce(*, actor, patient: Patient, action: str, before, after, ip_address=None) -> None:
    patient_id = patient.pk
    transaction.on_commit(
        lambda: record_changed.send(
            sender=Patient,
            user=actor,
            instance=patient,
            action=action,
            before=before,
            after=after,
            patient_id=patient_id,
            ip_address=ip_address,
        )
    )


def _set_active(user, patient_id: int | None) -> None:
    type(user).objects.filter(pk=user.pk).update(active_patient_id=patient_id)
    user.active_patient_id = patient_id


def placeholder_birth_date(today: date | None = None) -> date:
    """Today 25 years ago (the reference's placeholder until the user enters the real one)."""
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year - PLACEHOLDER_AGE_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - PLACEHOLDER_AGE_YEARS, day=28)


def patient_create(*, owner, values: dict, actor=None, ip_address: str | None = None) -> Patient:
    """A new patient owned by `owner`; at most one self-record per owner (400)."""
    values = {k: v for k, v in values.items() if k not in _NOT_UPDATABLE - {"is_self_record"}}
    patient = Patient(owner=owner, **values)
    # The owner is set by us; the self-record rule is checked below with its own message.
    patient.full_clean(exclude=["owner"])
    with transaction.atomic():
        if (
            patient.is_self_record
            and Patient.objects.filter(owner=owner, is_self_record=True).exists()
        ):
            raise BusinessRuleError(SELF_RECORD_EXISTS)
        try:
            with transaction.atomic():
                patient.save()
        except IntegrityError as exc:  # a concurrent request created the self-record first
            raise BusinessRuleError(SELF_RECORD_EXISTS) from exc
        _announce(
            actor=actor or owner,
            patient=patient,
            action=RecordAction.CREATED,
            before=None,
            after=model_snapshot(patient),
            ip_address=ip_address,
        )
    return patient


def self_record_create(*, user, values: dict, ip_address: str | None = None) -> Patient:
    """The user's own record (POST /patients/me); it becomes active if none is."""
    if Patient.objects.filter(owner=user, is_self_record=True).exists():
        raise BusinessRuleError(PATIENT_RECORD_EXISTS)
    with transaction.atomic():
        patient = patient_create(
            owner=user, values={**values, "is_self_record": True}, ip_address=ip_address
        )
        if user.active_patient_id is None:
            _set_active(user, patient.pk)
    return patient


def self_record_for_new_user(*, user) -> Patient:
    """The self-record made at registration, from the account's names or placeholders.

    The birth date is a placeholder (the form does not ask for it); the user corrects it.
    """
    existing = Patient.objects.filter(owner=user, is_self_record=True).first()
    if existing is not None:
        return existing
    first, last = user.first_name, user.last_name
    if not (first or last) and user.full_name:
        first, last = split_full_name(user.full_name)
    patient = patient_create(
        owner=user,
        values={
            "first_name": (first or PLACEHOLDER_FIRST_NAME)[:100],
            "last_name": (last or PLACEHOLDER_LAST_NAME)[:100],
            "birth_date": placeholder_birth_date(),
            "is_self_record": True,
        },
    )
    _set_active(user, patient.pk)
    return patient


def patient_update(
    *, patient: Patient, values: dict, actor, ip_address: str | None = None
) -> Patient:
    """Applies the given fields (PUT behaves like PATCH, as in the reference)."""
    before = model_snapshot(patient)
    for name, value in values.items():
        if name not in _NOT_UPDATABLE:
            setattr(patient, name, value)
    patient.full_clean(exclude=["owner"], validate_constraints=False)
    with transaction.atomic():
        patient.save()
        _announce(
            actor=actor,
            patient=patient,
            action=RecordAction.UPDATED,
            before=before,
            after=model_snapshot(patient),
            ip_address=ip_address,
        )
    return patient


def patient_delete(
    *, patient: Patient, actor, keep_last: bool = True, ip_address: str | None = None
) -> None:
    """Deletes the patient with every record, share and photo (cascade).

    Callers check ownership (access.is_owner). With `keep_last`, the owner's last patient
    stays (the patient-management rule); DELETE /patients/me may remove the last one.
    Afterwards the actor's active patient is re-resolved; other users' pointers were set to
    NULL by the foreign key and resolve on their next request.
    """
    patient_id = patient.pk
    with transaction.atomic():
        others = (
            Patient.objects.select_for_update()
            .filter(owner_id=patient.owner_id)
            .exclude(pk=patient_id)
            .values_list("id", flat=True)
        )
        if keep_last and not list(others):
            raise BusinessRuleError(LAST_PATIENT)
        before = model_snapshot(patient)
        patient.delete()
        patient.pk = patient_id  # the announcement names what was deleted
        _announce(
            actor=actor,
            patient=patient,
            action=RecordAction.DELETED,
            before=before,
            after=None,
            ip_address=ip_address,
        )
        if actor.active_patient_id in (None, patient_id):
            _set_active(actor, best_owned_patient_id(actor))


def active_patient_switch(*, user, patient_id) -> int:
    """Makes a patient the user may see (VIEW) the active one; 404 unknown, 403 invisible."""
    patient_id = require_patient_access(user, patient_id, Level.VIEW)
    _set_active(user, patient_id)
    return patient_id


def active_patient_current(*, user) -> int | None:
    """The active patient's id, or None; a pointer the user can no longer see is cleared."""
    current = user.active_patient_id
    if current is None or can_access(user, current, Level.VIEW):
        return current
    type(user).objects.filter(pk=user.pk, active_patient_id=current).update(active_patient_id=None)
    user.active_patient_id = None
    return None


# --- the photo ------------------------------------------------------------------------------


def file_delete_on_commit(*, storage, name: str) -> None:
    """Deletes a stored file once the transaction commits (a rollback keeps it)."""

    def delete():
        try:
            storage.delete(name)
        except OSError:
            logger.warning("could not delete the photo file %s", name, exc_info=True)

    transaction.on_commit(delete)


def patient_photo_save(*, patient: Patient, upload, uploaded_by) -> PatientPhoto:
    """Stores the upload as the patient's photo, replacing (and deleting) any previous one."""
    photos.check_size(upload)
    try:
        content, width, height = photos.render_jpeg(upload)
    except ValidationError as exc:
        raise FieldValidationError("file", exc.messages[0]) from exc
    photo = PatientPhoto.objects.filter(patient=patient).first() or PatientPhoto(patient=patient)
    previous = photo.file.name if photo.pk else ""
    photo.file.save("photo.jpg", ContentFile(content), save=False)
    new_name = photo.file.name
    photo.file_size = len(content)
    photo.width, photo.height = width, height
    photo.mime_type = "image/jpeg"
    photo.original_name = photos.display_name(getattr(upload, "name", ""))
    photo.uploaded_by = uploaded_by
    photo.uploaded_at = timezone.now()
    try:
        with transaction.atomic():
            photo.save()
            if previous and previous != new_name:
                file_delete_on_commit(storage=photo.file.storage, name=previous)
    except IntegrityError as exc:  # two first uploads at once; one wins
        photo.file.storage.delete(new_name)
        raise ConflictError("Another photo was uploaded at the same moment; try again.") from exc
    except Exception:
        photo.file.storage.delete(new_name)
        raise
    return photo


def patient_photo_delete(*, photo: PatientPhoto) -> None:
    """Deletes the row; the file follows once the deletion commits (patients/receivers.py)."""
    photo.delete()
