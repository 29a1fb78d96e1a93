"""The patient portal: invitations that give a managed patient an account of their own, and
the requests that account files for the patient's managers.

Who may do what comes from patients/access.py: FULL (the owner, or a FULL grantee up to
EDIT) invites; anyone who can see the patient files requests; EDIT manages the queue.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from medikeep.accounts.selectors import email_taken
from medikeep.accounts.services import user_register
from medikeep.accounts.validators import validate_username
from medikeep.api.exceptions import BusinessRuleError, ConflictError, FieldValidationError
from patients.access import (
    Level,
    forget,
    level_on,
    max_grantable_level,
    require_patient_access,
)
from patients.choices import RecordAction, ShareLevel
from patients.core.serializers import model_snapshot
from patients.models import Patient, PatientShare
from patients.signals import record_changed
from records.models import Medication, Pharmacy
from sharing.models import (
    PortalInvitation,
    PortalInvitationStatus,
    PortalRequest,
    PortalRequestStatus,
    PortalRequestType,
)
from sharing.services.invitations import announce_share_change

LINK_INVALID = "This invitation link is not valid; ask for a new invitation."
LINK_DEAD = {
    PortalInvitationStatus.ACCEPTED: "This invitation has already been used.",
    PortalInvitationStatus.REVOKED: "This invitation was withdrawn or replaced by a newer one.",
    PortalInvitationStatus.EXPIRED: "This invitation has expired; ask for a new one.",
}
ACCOUNT_EXISTS = (
    "An account with this email address already exists: sign in (or reset your password) "
    "and accept the invitation again."
)


# --- invitations ----------------------------------------------------------------------------


def account_exists(email: str) -> bool:
    return email_taken(email)


def portal_invite(
    *, inviter, patient_id, permission_level: str = ShareLevel.VIEW, email: str = ""
) -> PortalInvitation:
    """Emails `email` (default: the patient's own) a link to join the portal at the level.

    Only FULL may invite, never above what it may grant (access.py). A new invitation
    replaces the patient's pending ones, so only the newest link works.
    """
    patient_id = require_patient_access(inviter, patient_id, Level.FULL)
    grantable = max_grantable_level(inviter, patient_id)
    if Level.of_share(permission_level) > grantable:
        raise PermissionDenied(
            f"You may give portal access at {grantable.label} level at most, "
            f"not {permission_level}."
        )
    patient = Patient.objects.select_related("owner").get(pk=patient_id)
    address = (email or patient.email or "").strip()
    if not address:
        raise BusinessRuleError(
            "The patient has no email address: give one (email) to send the invitation to."
        )
    if patient.owner.email and address.lower() == patient.owner.email.strip().lower():
        raise BusinessRuleError("That address is the owner's, who has full access already.")
    with transaction.atomic():
        PortalInvitation.objects.filter(
            patient_id=patient_id, status=PortalInvitationStatus.PENDING
        ).update(status=PortalInvitationStatus.REVOKED)
        invitation = PortalInvitation.objects.create(
            patient=patient,
            email=address,
            permission_level=permission_level,
            invited_by=inviter,
            expires_at=timezone.now() + timedelta(hours=settings.PORTAL_INVITE_HOURS),
        )
        from sharing.tasks import send_portal_invitation_email

        transaction.on_commit(lambda: send_portal_invitation_email.delay(invitation.pk))
    return invitation


def invitation_for_token(token: str) -> PortalInvitation:
    """The pending invitation a link names; 400 for a link that is forged or dead. A pending
    invitation found past its expiry is marked expired on the way."""
    invitation_id = PortalInvitation.id_from_token(token)
    invitation = (
        PortalInvitation.objects.select_related("patient", "invited_by")
        .filter(pk=invitation_id)
        .first()
        if invitation_id
        else None
    )
    if invitation is None:
        raise BusinessRuleError(LINK_INVALID)
    if invitation.is_lapsed:
        PortalInvitation.objects.filter(
            pk=invitation.pk, status=PortalInvitationStatus.PENDING
        ).update(status=PortalInvitationStatus.EXPIRED)
        invitation.status = PortalInvitationStatus.EXPIRED
    if invitation.status != PortalInvitationStatus.PENDING:
        raise BusinessRuleError(LINK_DEAD[invitation.status])
    return invitation


def _lock_pending(invitation: PortalInvitation) -> None:
    # Checked again under a row lock: two clicks (or devices) must not both accept.
    locked = PortalInvitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.status != PortalInvitationStatus.PENDING:
        raise BusinessRuleError(LINK_DEAD[locked.status])
    if locked.is_lapsed:
        raise BusinessRuleError(LINK_DEAD[PortalInvitationStatus.EXPIRED])


def _grant(invitation: PortalInvitation, user) -> None:
    """Gives `user` the invitation's level on the patient and marks it accepted. An access
    the user holds already at that level or above is kept as it is: accepting never lowers
    a grant (only the owner ends or changes other people's access)."""
    patient = invitation.patient
    if patient.owner_id == user.pk:
        raise BusinessRuleError("You own this patient; there is no access to accept.")
    wanted = Level.of_share(invitation.permission_level)
    grantable = max_grantable_level(invitation.invited_by, patient.pk)
    if grantable is None or wanted > grantable:
        raise BusinessRuleError(
            "Whoever sent this invitation may no longer grant this access; ask for a new one."
        )
    current = level_on(user, patient.pk)
    if current is None or current < wanted:
        earlier = PatientShare.objects.filter(patient=patient, grantee=user).first()
        before = model_snapshot(earlier) if earlier is not None else None
        share, _ = PatientShare.objects.update_or_create(
            patient=patient,
            grantee=user,
            defaults={
                "level": invitation.permission_level,
                "expires_at": None,
                "is_active": True,
                "granted_by": invitation.invited_by,
            },
        )
        announce_share_change(user, share, before)
    if user.active_patient_id is None:  # a new portal account opens on its own record
        user.active_patient = patient
        user.save(update_fields=["active_patient"])
    invitation.status = PortalInvitationStatus.ACCEPTED
    invitation.accepted_by = user
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["status", "accepted_by", "accepted_at"])
    forget(user)


def portal_join(*, token: str, username: str, password: str, full_name: str = ""):
    """Creates the invited account (email: the invitation's; open even while public
    registration is off, the invitation being the permission) and grants it access.
    Returns (invitation, user). An address that has an account already is a 409."""
    invitation = invitation_for_token(token)
    if account_exists(invitation.email):
        raise ConflictError(ACCOUNT_EXISTS)
    try:
        validate_username(username)
    except ValidationError as exc:
        raise FieldValidationError("username", " ".join(exc.messages)) from exc
    with transaction.atomic():
        _lock_pending(invitation)
        user = user_register(
            username=username,
            email=invitation.email,
            password=password,
            full_name=full_name,
            invited=True,
        )
        _grant(invitation, user)
    return invitation, user


def portal_accept(*, token: str, user) -> PortalInvitation:
    """A signed-in account accepts an invitation sent to its own email address."""
    invitation = invitation_for_token(token)
    if invitation.patient.owner_id == user.pk:
        raise BusinessRuleError("You own this patient; there is no access to accept.")
    if (user.email or "").strip().lower() != invitation.email.strip().lower():
        raise PermissionDenied("This invitation was sent to another email address.")
    with transaction.atomic():
        _lock_pending(invitation)
        _grant(invitation, user)
    return invitation


# --- requests -------------------------------------------------------------------------------


def portal_request_submit(*, user, patient_id, request_type: str, payload: dict) -> PortalRequest:
    """Files a request for the patient's managers; anyone who can see the patient may.
    A refill by medication_id names one of the patient's medications that the user can see
    (422 otherwise); a refill by name alone is filed as named, for the managers to match."""
    patient_id = require_patient_access(user, patient_id, Level.VIEW)
    medication = None
    if request_type == PortalRequestType.RX_REFILL and payload.get("medication_id"):
        medication = (
            Medication.objects.visible_to(user)
            .filter(patient_id=patient_id, pk=payload["medication_id"])
            .first()
        )
        if medication is None:
            raise FieldValidationError("medication_id", "No such medication of this patient.")
        payload = {
            **payload,
            "medication_name": medication.medication_name,
            "dosage": medication.dosage,
        }
    item = PortalRequest(
        patient_id=patient_id,
        request_type=request_type,
        payload=payload,
        submitted_by=user,
        medication=medication,
    )
    item.full_clean()
    item.save()
    return item


def _queue_of(user, patient_id):
    patient_id = require_patient_access(user, patient_id, Level.EDIT)
    return patient_id, PortalRequest.objects.live().filter(patient_id=patient_id)


def portal_requests_for_managers(user, patient_id, *, request_type=None, status=None):
    """The patient's queue for EDIT and above, newest first: open requests unless `status`
    names another one ("all": every request not deleted)."""
    _, queue = _queue_of(user, patient_id)
    status = status or PortalRequestStatus.OPEN
    if status != "all":
        queue = queue.filter(status=status)
    if request_type:
        queue = queue.filter(request_type=request_type)
    return queue.select_related("submitted_by", "resolved_by").order_by("-created_at", "-id")


def _locked_request(user, patient_id, request_id) -> PortalRequest:
    patient_id, queue = _queue_of(user, patient_id)
    item = queue.select_for_update().filter(pk=request_id).first()
    if item is None:
        raise Http404("Portal request not found")
    return item


def _resolve(item: PortalRequest, user, status: str, note: str) -> None:
    item.status = status
    item.resolved_by = user
    item.resolved_at = timezone.now()
    item.resolution_note = note or ""
    item.save(
        update_fields=["status", "resolved_by", "resolved_at", "resolution_note", "medication"]
    )


def _open_or_refuse(item: PortalRequest) -> None:
    if item.status != PortalRequestStatus.OPEN:
        raise BusinessRuleError(
            f"This request is {item.status} already; only open requests can be answered."
        )


def _create_medication(item: PortalRequest, user, ip_address: str | None) -> Medication:
    """The medication a new-medication request asks for, validated like any record and
    announced like the record API does, so it shows in the activity log."""
    payload = item.payload
    pharmacy_id = payload.get("pharmacy_id")
    if pharmacy_id and not Pharmacy.objects.filter(pk=pharmacy_id).exists():
        pharmacy_id = None  # the pharmacy left the directory since the request was filed
    medication = Medication(
        patient_id=item.patient_id,
        medication_name=payload.get("medication_name") or "",
        dosage=payload.get("dosage") or "",
        frequency=payload.get("frequency") or "",
        route=payload.get("route") or "",
        notes=payload.get("notes") or "",
        pharmacy_id=pharmacy_id,
    )
    medication.full_clean()
    medication.save()
    after = model_snapshot(medication)
    transaction.on_commit(
        lambda: record_changed.send(
            sender=Medication,
            user=user,
            instance=medication,
            action=RecordAction.CREATED,
            before=None,
            after=after,
            patient_id=medication.patient_id,
            ip_address=ip_address,
        )
    )
    return medication


def portal_request_accept(
    *, user, patient_id, request_id, note: str = "", ip_address: str | None = None
) -> PortalRequest:
    """Accepts an open request: a new medication is created for the patient; a refill is
    recorded against its medication; a questionnaire is filed as accepted."""
    with transaction.atomic():
        item = _locked_request(user, patient_id, request_id)
        _open_or_refuse(item)
        if item.request_type == PortalRequestType.RX_NEW:
            item.medication = _create_medication(item, user, ip_address)
        elif (
            item.request_type == PortalRequestType.RX_REFILL
            and item.payload.get("medication_id")
            and item.medication_id is None
        ):
            raise BusinessRuleError("The medication of this refill no longer exists; dismiss it.")
        _resolve(item, user, PortalRequestStatus.ACCEPTED, note)
    return item


def portal_request_dismiss(*, user, patient_id, request_id, note: str = "") -> PortalRequest:
    """Closes an open request without acting on it."""
    with transaction.atomic():
        item = _locked_request(user, patient_id, request_id)
        _open_or_refuse(item)
        _resolve(item, user, PortalRequestStatus.DISMISSED, note)
    return item


def portal_request_delete(*, user, patient_id, request_id) -> None:
    """Hides a request (soft delete), recording when and by whom."""
    with transaction.atomic():
        item = _locked_request(user, patient_id, request_id)
        item.deleted_at = timezone.now()
        item.deleted_by = user
        item.save(update_fields=["deleted_at", "deleted_by"])
