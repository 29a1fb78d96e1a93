"""Patient-share invitations: send, answer, cancel; and the shares they create end here too.

Every rule about who may grant what comes from patients/access.py; this module only runs the
flow. Writes are atomic and the invitation row is locked while it is answered, so a double
click or two devices cannot accept the same invitation twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from medikeep.api.exceptions import ApiError, BusinessRuleError, ConflictError
from patients.access import (
    Level,
    forget,
    is_owner,
    max_grantable_level,
    require_patient_access,
)
from patients.choices import RecordAction, ShareLevel
from patients.core.serializers import model_snapshot
from patients.models import Patient, PatientShare
from patients.signals import record_changed
from sharing.choices import InvitationStatus, InvitationType
from sharing.models import Invitation
from sharing.models.invitations import DEFAULT_INVITATION_HOURS

# Acceptance handlers per invitation type: (invitation, accepted patient/member ids) -> result.
# Family-history sharing registers its own (sharing/services/family.py).
ACCEPT_HANDLERS: dict[str, Callable[[Invitation, list[int] | None], dict]] = {}
# What ends the grants of an accepted invitation when it is revoked, per type.
REVOKE_HANDLERS: dict[str, Callable[[Invitation], int]] = {}


def find_recipient(identifier: str):
    """The user an invitation goes to, by username or email (either case); 404 otherwise."""
    text = (identifier or "").strip()
    users = get_user_model().objects.filter(is_active=True)
    user = users.filter(username__iexact=text).first() or users.filter(email__iexact=text).first()
    if user is None:
        raise Http404(f"User '{text}' not found")
    return user


def invite_each(identifiers: Iterable[str], send: Callable[..., Invitation]) -> dict:
    """One invitation per recipient (`send(recipient)`), each on its own: a recipient who
    cannot be invited (unknown, already shared …) is reported and the others still go out.
    Returns {successful_invites, failed_invites, results} and the same counts as
    {total_sent, total_failed} (the web app's names)."""
    results = []
    for identifier in identifiers:
        try:
            invitation = send(find_recipient(identifier))
        except (ApiError, Http404) as exc:
            reason = exc.detail if isinstance(exc, ApiError) else exc
            results.append({"recipient": identifier, "success": False, "error": str(reason)})
        else:
            results.append(
                {"recipient": identifier, "success": True, "invitation_id": invitation.pk}
            )
    ok = sum(1 for result in results if result["success"])
    failed = len(results) - ok
    return {
        "successful_invites": ok,
        "failed_invites": failed,
        "total_sent": ok,
        "total_failed": failed,
        "results": results,
    }


def invitation_expiry(expires_hours: int | None) -> datetime:
    return timezone.now() + timedelta(hours=expires_hours or DEFAULT_INVITATION_HOURS)


def patients_title(patients: list[Patient]) -> str:
    names = [f"{p.first_name} {p.last_name}" for p in patients]
    if len(names) == 1:
        return f"Patient Record Share: {names[0]}"
    shown = ", ".join(names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"Patient Record Share: {shown}{more}"


def check_can_grant(sender, patient: Patient, level: str, *, owned_only: bool) -> None:
    """The sender may grant `level` on the patient: owners anything, FULL grantees up to EDIT
    (access.py). Patients the sender cannot see are 404, as if they did not exist."""
    grantable = max_grantable_level(sender, patient.pk)
    if grantable is None or (owned_only and not is_owner(sender, patient)):
        raise Http404(f"Patient {patient.pk} not found or you don't have permission to share it")
    if Level.of_share(level) > grantable:
        raise PermissionDenied(
            f"You may share this patient at {grantable.label} level at most, not {level}."
        )


def invite_patients(
    *,
    sender,
    patient_ids: list[int],
    recipient,
    permission_level: str = ShareLevel.VIEW,
    share_expires_at: datetime | None = None,
    custom_permissions: dict | None = None,
    message: str = "",
    expires_hours: int | None = None,
    bulk: bool = False,
) -> Invitation:
    """One invitation offering `recipient` access to the patients. All-or-nothing: every
    patient must be shareable by the sender (bulk: owned), none already shared with the
    recipient, and (single) no pending invitation may offer the same patient already."""
    if recipient.pk == sender.pk:
        raise BusinessRuleError("You cannot share a patient with yourself.")
    if share_expires_at is not None and share_expires_at <= timezone.now():
        raise BusinessRuleError("The share's expiry must be in the future.")
    found = Patient.objects.in_bulk(patient_ids)
    missing = [pid for pid in patient_ids if pid not in found]
    if missing:
        raise Http404(f"Patients not found or not yours to share: {', '.join(map(str, missing))}")
    patients = [found[pid] for pid in patient_ids]
    for patient in patients:
        check_can_grant(sender, patient, permission_level, owned_only=bulk)
        if patient.owner_id == recipient.pk:
            raise BusinessRuleError(f"{recipient.username} already owns patient {patient.pk}.")
    shared = PatientShare.objects.in_force().filter(grantee=recipient, patient__in=patients)
    if shared.exists():
        names = ", ".join(str(share.patient) for share in shared.select_related("patient"))
        raise ConflictError(f"Already shared with {recipient.username}: {names}.")
    pending = Invitation.objects.open().filter(
        sent_by=sender,
        sent_to=recipient,
        invitation_type=InvitationType.PATIENT_SHARE,
        patients__in=patients,
    )
    if pending.exists():
        raise ConflictError("A pending invitation for this patient and recipient already exists.")
    return create_invitation(
        offered=("patients", patients),
        sent_by=sender,
        sent_to=recipient,
        invitation_type=InvitationType.PATIENT_SHARE,
        title=patients_title(patients),
        message=message or "",
        permission_level=permission_level,
        share_expires_at=share_expires_at,
        custom_permissions=custom_permissions,
        is_bulk=bulk,
        expires_at=invitation_expiry(expires_hours),
    )


def create_invitation(*, offered: tuple[str, list], **fields) -> Invitation:
    """Saves an invitation with what it offers (`(relation, rows)`), and emails the recipient
    once committed. The checks come first, in the flow that calls this."""
    relation, rows = offered
    with transaction.atomic():
        invitation = Invitation.objects.create(**fields)
        getattr(invitation, relation).set(rows)
        announce_invitation(invitation)
    return invitation


def chosen_items(invitation: Invitation, offered: list, ids: list[int] | None, label: str) -> list:
    """What the recipient accepts: everything offered, or for a bulk invitation the `ids`
    they chose (each must be offered: 400 otherwise)."""
    if not ids:
        return offered
    if not invitation.is_bulk:
        raise BusinessRuleError(f"Choosing {label} applies to bulk invitations only.")
    unknown = set(ids) - {item.pk for item in offered}
    if unknown:
        raise BusinessRuleError(
            f"{label.capitalize()} not in this invitation: {', '.join(map(str, sorted(unknown)))}."
        )
    return [item for item in offered if item.pk in set(ids)]


def announce_invitation(invitation: Invitation) -> None:
    """Emails the recipient once the invitation is committed (Celery; eager in tests)."""
    from sharing.tasks import send_invitation_email

    transaction.on_commit(lambda: send_invitation_email.delay(invitation.pk))


# --- answering ------------------------------------------------------------------------------


def _lock_for_recipient(invitation_id: int, user) -> Invitation:
    """The pending invitation addressed to `user`, locked; 404 for anything else (someone
    else's invitation is not revealed). A lapsed one is marked expired first."""
    invitation = (
        Invitation.objects.select_for_update()
        .filter(pk=invitation_id, sent_to=user, status=InvitationStatus.PENDING)
        .first()
    )
    if invitation is None:
        raise Http404("Invitation not found or already answered")
    return invitation


def respond(
    *,
    invitation_id: int,
    user,
    accept: bool,
    response_note: str = "",
    item_ids: list[int] | None = None,
) -> tuple[Invitation, dict]:
    """Accepts or rejects an invitation addressed to `user`. Returns the invitation and the
    result of accepting (share ids …). An expired invitation becomes `expired` and is a 404."""
    with transaction.atomic():
        invitation = _lock_for_recipient(invitation_id, user)
        if invitation.is_lapsed:
            invitation.status = InvitationStatus.EXPIRED
            invitation.save(update_fields=["status", "updated_at"])
            expired = True
        else:
            expired = False
            result = {}
            if accept:
                result = ACCEPT_HANDLERS[invitation.invitation_type](invitation, item_ids)
            invitation.status = InvitationStatus.ACCEPTED if accept else InvitationStatus.REJECTED
            invitation.responded_at = timezone.now()
            invitation.response_note = response_note or ""
            invitation.save(update_fields=["status", "responded_at", "response_note", "updated_at"])
    if expired:  # outside the block, so the status change is kept
        raise Http404("Invitation has expired")
    forget(user)
    return invitation, result


def accept_patient_share(invitation: Invitation, patient_ids: list[int] | None) -> dict:
    """Creates (or re-activates) one share per patient of the invitation. A bulk invitation
    may be accepted in part; patients that are gone or no longer the sender's to share are
    skipped, as the reference does."""
    offered = chosen_items(invitation, list(invitation.patients.all()), patient_ids, "patients")
    sender, recipient = invitation.sent_by, invitation.sent_to
    wanted = Level.of_share(invitation.permission_level)
    shares = []
    for patient in offered:
        grantable = max_grantable_level(sender, patient.pk)
        if grantable is None or wanted > grantable:
            continue
        held = PatientShare.objects.in_force().filter(patient=patient, grantee=recipient).first()
        if held is not None and Level.of_share(held.level) >= wanted:
            # Accepting never lowers (or shortens) access the recipient holds already: only
            # the owner changes other people's grants.
            shares.append(held)
            continue
        earlier = PatientShare.objects.filter(patient=patient, grantee=recipient).first()
        before = model_snapshot(earlier) if earlier is not None else None
        share, _ = PatientShare.objects.update_or_create(
            patient=patient,
            grantee=recipient,
            defaults={
                "level": invitation.permission_level,
                "expires_at": invitation.share_expires_at,
                "custom_permissions": invitation.custom_permissions,
                "is_active": True,
                "granted_by": sender,
            },
        )
        announce_share_change(recipient, share, before)
        shares.append(share)
    if not shares:
        raise BusinessRuleError("None of the invitation's patients can be shared any more.")
    return {"share_ids": [s.pk for s in shares], "share_count": len(shares)}


ACCEPT_HANDLERS[InvitationType.PATIENT_SHARE] = accept_patient_share


def cancel(*, invitation_id: int, user, status: str = InvitationStatus.CANCELLED) -> Invitation:
    """The sender withdraws a pending invitation (404 for anything else)."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(pk=invitation_id, sent_by=user, status=InvitationStatus.PENDING)
            .first()
        )
        if invitation is None:
            raise Http404("Invitation not found or no longer pending")
        invitation.status = status
        invitation.save(update_fields=["status", "updated_at"])
    return invitation


def revoke_invitation(*, invitation_id: int, user) -> Invitation:
    """The sender takes an invitation back: a pending one is withdrawn; an accepted one of a
    type whose grants it owns (family history) also ends those grants. Accepted patient
    shares end through the share itself (DELETE /patient-sharing/{share_id})."""
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("Invitation not found")
    if invitation.sent_by_id != user.pk:
        raise PermissionDenied("Only the sender may revoke an invitation.")
    if invitation.status == InvitationStatus.PENDING:
        return cancel(invitation_id=invitation_id, user=user, status=InvitationStatus.REVOKED)
    handler = REVOKE_HANDLERS.get(invitation.invitation_type)
    if invitation.status != InvitationStatus.ACCEPTED or handler is None:
        raise BusinessRuleError(
            f"An invitation that is {invitation.status} cannot be revoked"
            + (
                "; revoke the share instead."
                if invitation.invitation_type == InvitationType.PATIENT_SHARE
                else "."
            )
        )
    with transaction.atomic():
        handler(invitation)
        invitation.status = InvitationStatus.REVOKED
        invitation.save(update_fields=["status", "updated_at"])
    return invitation


# --- shares ---------------------------------------------------------------------------------


def owned_share(*, user, patient_id, grantee_id) -> PatientShare:
    """The active share of the user's patient with that grantee, for its owner to change or end
    (the reference's paths name a share by patient and grantee). A patient the user cannot see
    is 404/403 like any patient id, a grantee gets 403 (only the owner manages shares), and no
    active share is a 404."""
    patient_id = require_patient_access(user, patient_id, Level.VIEW)
    if not Patient.objects.filter(pk=patient_id, owner_id=user.pk).exists():
        raise PermissionDenied("Only the patient's owner may change or revoke its shares.")
    share = (
        PatientShare.objects.select_related("patient")
        .filter(patient_id=patient_id, grantee_id=grantee_id, is_active=True)
        .first()
    )
    if share is None:
        raise Http404("No active share of this patient with that user")
    return share


_UNCHANGED = object()


def update_share(
    *,
    share: PatientShare,
    user,
    permission_level: str | None = None,
    expires_at=_UNCHANGED,
    custom_permissions=_UNCHANGED,
) -> PatientShare:
    """The owner changes a grant's level, expiry or custom permissions; what is not given stays.
    Never above what the owner may grant (access.py); an expiry must lie ahead."""
    if not is_owner(user, share.patient):
        raise PermissionDenied("Only the patient's owner may change a share.")
    if permission_level is not None:
        grantable = max_grantable_level(user, share.patient_id)
        if grantable is None or Level.of_share(permission_level) > grantable:
            raise PermissionDenied(f"You may not grant {permission_level} on this patient.")
    if expires_at is not _UNCHANGED and expires_at is not None and expires_at <= timezone.now():
        raise BusinessRuleError("The share's expiry must be in the future.")
    before = model_snapshot(share)
    if permission_level is not None:
        share.level = permission_level
    if expires_at is not _UNCHANGED:
        share.expires_at = expires_at
    if custom_permissions is not _UNCHANGED:
        share.custom_permissions = custom_permissions
    with transaction.atomic():
        share.save(update_fields=["level", "expires_at", "custom_permissions", "updated_at"])
        announce_share_change(user, share, before)
    return share


def revoke_share(*, share: PatientShare, user) -> None:
    """The owner ends a grant; access stops at once. Only the owner may: a grant ends other
    people's access, which no grantee decides (access.py)."""
    if not is_owner(user, share.patient):
        raise PermissionDenied("Only the patient's owner may revoke a share.")
    _end_shares([share], user=user)


def leave(*, patient_id: int, user) -> None:
    """A grantee gives up their own access."""
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is not None and patient.owner_id == user.pk:
        raise BusinessRuleError("You own this patient; there is no share to remove.")
    share = PatientShare.objects.filter(patient_id=patient_id, grantee=user, is_active=True).first()
    if share is None:
        raise Http404("No active share of this patient with you")
    _end_shares([share], user=user)
    forget(user)


def announce_share_change(user, share: PatientShare, before: dict | None) -> None:
    """Puts a grant, its change or its end into the patient's activity log (who gave whom
    access, who ended it), once the transaction commits."""
    after = model_snapshot(share)
    transaction.on_commit(
        lambda: record_changed.send(
            sender=PatientShare,
            user=user,
            instance=share,
            action=RecordAction.CREATED if before is None else RecordAction.UPDATED,
            before=before,
            after=after,
            patient_id=share.patient_id,
        )
    )


def _end_shares(shares: Iterable[PatientShare], *, user) -> None:
    shares = list(shares)
    with transaction.atomic():
        PatientShare.objects.filter(pk__in=[s.pk for s in shares]).update(
            is_active=False, updated_at=timezone.now()
        )
        for share in shares:
            before = model_snapshot(share)
            share.is_active = False
            announce_share_change(user, share, before)
            # The invitation that granted it is over too (the reference's lifecycle).
            Invitation.objects.filter(
                invitation_type=InvitationType.PATIENT_SHARE,
                status=InvitationStatus.ACCEPTED,
                sent_to_id=share.grantee_id,
                patients=share.patient_id,
            ).update(status=InvitationStatus.REVOKED, updated_at=timezone.now())


# --- housekeeping (the API's cleanup paths and the hourly beat task) -------------------------


def expire_invitations(*, at: datetime | None = None) -> int:
    """Marks pending invitations past their expiry as expired; returns how many."""
    return Invitation.objects.lapsed(at).update(
        status=InvitationStatus.EXPIRED, updated_at=timezone.now()
    )


def deactivate_expired_shares(*, at: datetime | None = None) -> int:
    """Marks shares past their expiry inactive. Access already stopped at the expiry (the
    access query checks it); this only tidies the table and the lists."""
    moment = at or timezone.now()
    return PatientShare.objects.filter(is_active=True, expires_at__lte=moment).update(
        is_active=False, updated_at=timezone.now()
    )
