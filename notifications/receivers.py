"""Events raised from what other parts of the system announce; none of them imports this app.

- lab_result_available: `record_changed` of a LabResult whose status becomes completed
  (or that is created completed) → the patient's owner and everyone with a share in force,
  except whoever made the change.
- share_revoked: `record_changed` of a PatientShare going from active to inactive → the
  former grantee, unless they left by themselves.
- invitation_received / invitation_accepted: `post_save` of an Invitation (created; answered
  with accept) and of a portal invitation (created for an address that has an account;
  accepted) → the invitee / the inviter.
- password_changed: accounts' `password_changed` → the user.
- new_sign_in: Django's `user_logged_in` from an address the user has not signed in from
  before → the user.

Each event is raised once the change has committed (transaction.on_commit; `record_changed`
already comes after the commit), so a rolled-back change tells nobody. A failure is logged
and swallowed: a notification must never turn a saved change into an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from medikeep.accounts.signals import password_changed
from medikeep.middleware import client_ip
from notifications.services import (
    display_name,
    notify,
    patient_audience,
    sign_in_address_record,
)
from patients.choices import RecordAction
from patients.models import Patient, PatientShare
from patients.signals import record_changed
from records.models.labs import LabResult, LabResultStatus
from sharing.choices import InvitationStatus, InvitationType
from sharing.models import Invitation
from sharing.models.portal import PortalInvitation, PortalInvitationStatus

logger = logging.getLogger("notifications")

INVITATION_KINDS = {
    InvitationType.PATIENT_SHARE: "patient record",
    InvitationType.FAMILY_HISTORY_SHARE: "family history",
}


def _after_commit(event_type: str, raise_event: Callable[[], object]) -> None:
    def run() -> None:
        try:
            raise_event()
        except Exception:
            # Only the event's name: its data may name patients and tests.
            logger.exception("notifications: could not raise %s", event_type)

    transaction.on_commit(run)


def _patient_name(patient_id) -> str:
    patient = Patient.objects.filter(pk=patient_id).only("first_name", "last_name").first()
    return patient.full_name if patient is not None else ""


# --- records and shares ---------------------------------------------------------------------


@receiver(record_changed, dispatch_uid="notifications.record_events")
def on_record_changed(sender, *, user=None, instance=None, before=None, after=None, **kwargs):
    if sender is LabResult:
        _lab_result_changed(user, instance, before, after)
    elif sender is PatientShare and kwargs.get("action") == RecordAction.UPDATED:
        _share_changed(user, instance, before, after)


def _lab_result_changed(user, instance, before, after) -> None:
    completed = LabResultStatus.COMPLETED
    if not after or after.get("status") != completed:
        return
    if before and before.get("status") == completed:
        return  # an edit of a result that was complete already
    patient_id = after.get("patient_id")
    lab_result_id = instance.pk
    test_name = after.get("test_name") or ""
    actor_id = getattr(user, "pk", None)

    def raise_event():
        notify(
            event_type="lab_result_available",
            user_ids=patient_audience(patient_id, exclude_user_id=actor_id),
            data={
                "lab_result_id": lab_result_id,
                "patient_id": patient_id,
                "test_name": test_name,
                "patient_name": _patient_name(patient_id),
            },
            # Once per result and channel: a result set back and completed again, or
            # announced twice, is not news twice.
            dedup_key_prefix=f"lab_result_available:{lab_result_id}",
        )

    _after_commit("lab_result_available", raise_event)


def _share_changed(user, share, before, after) -> None:
    if not (before and after and before.get("is_active") and not after.get("is_active")):
        return
    grantee_id = after.get("grantee_id")
    if grantee_id is None or getattr(user, "pk", None) == grantee_id:
        return  # the grantee left by themselves: nothing to tell them
    patient_id = after.get("patient_id")
    by_user = display_name(user)

    def raise_event():
        notify(
            event_type="share_revoked",
            user_ids=[grantee_id],
            data={
                "patient_id": patient_id,
                "patient_name": _patient_name(patient_id),
                "by_user": by_user,
            },
        )

    _after_commit("share_revoked", raise_event)


# --- invitations ----------------------------------------------------------------------------


def _answered(instance, update_fields) -> bool:
    # An answer saves the status; other saves of an accepted row (the admin …) are not news.
    return update_fields is not None and "status" in update_fields


@receiver(post_save, sender=Invitation, dispatch_uid="notifications.invitation_events")
def on_invitation_saved(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    invitation_id = instance.pk
    if created and instance.status == InvitationStatus.PENDING:
        data = {
            "invitation_id": invitation_id,
            "from_user": display_name(instance.sent_by),
            "invitation_kind": INVITATION_KINDS.get(instance.invitation_type, "sharing"),
            "invitation_title": instance.title,
            "message": instance.message,
        }
        recipient_id = instance.sent_to_id
        _after_commit(
            "invitation_received",
            lambda: notify(
                event_type="invitation_received",
                user_ids=[recipient_id],
                data=data,
                dedup_key_prefix=f"invitation_received:{invitation_id}",
            ),
        )
    elif instance.status == InvitationStatus.ACCEPTED and _answered(instance, update_fields):
        data = {
            "invitation_id": invitation_id,
            "by_user": display_name(instance.sent_to),
            "invitation_title": instance.title,
        }
        sender_id = instance.sent_by_id
        _after_commit(
            "invitation_accepted",
            lambda: notify(
                event_type="invitation_accepted",
                user_ids=[sender_id],
                data=data,
                dedup_key_prefix=f"invitation_accepted:{invitation_id}",
            ),
        )


def _portal_title(invitation) -> str:
    return f"access to the record of {_patient_name(invitation.patient_id)}"


@receiver(post_save, sender=PortalInvitation, dispatch_uid="notifications.portal_invitation")
def on_portal_invitation_saved(sender, instance, created, raw=False, update_fields=None, **kw):
    if raw:
        return
    invitation_id = instance.pk
    if created and instance.status == PortalInvitationStatus.PENDING:
        # Sent to an email address; only an account with that address can be told here.
        # The link itself stays in the email: it is the key to the invitation.
        email = instance.email.strip()
        inviter_id = instance.invited_by_id
        data = {
            "invitation_id": invitation_id,
            "from_user": display_name(instance.invited_by),
            "invitation_kind": "patient portal",
            "invitation_title": _portal_title(instance),
        }

        def raise_received():
            recipients = (
                get_user_model()
                .objects.filter(email__iexact=email, is_active=True)
                .exclude(pk=inviter_id)
                .values_list("pk", flat=True)
            )
            notify(
                event_type="invitation_received",
                user_ids=list(recipients),
                data=data,
                dedup_key_prefix=f"portal_invitation_received:{invitation_id}",
            )

        _after_commit("invitation_received", raise_received)
    elif instance.status == PortalInvitationStatus.ACCEPTED and _answered(instance, update_fields):
        data = {
            "invitation_id": invitation_id,
            "by_user": display_name(instance.accepted_by),
            "invitation_title": _portal_title(instance),
        }
        inviter_id = instance.invited_by_id
        _after_commit(
            "invitation_accepted",
            lambda: notify(
                event_type="invitation_accepted",
                user_ids=[inviter_id],
                data=data,
                dedup_key_prefix=f"portal_invitation_accepted:{invitation_id}",
            ),
        )


# --- the account ----------------------------------------------------------------------------


@receiver(password_changed, dispatch_uid="notifications.password_changed")
def on_password_changed(sender, *, user, via: str = "change", **kwargs):
    user_id = user.pk
    data = {"username": user.get_username(), "changed_at": timezone.now(), "via": via}
    _after_commit(
        "password_changed",
        lambda: notify(event_type="password_changed", user_ids=[user_id], data=data),
    )


@receiver(user_logged_in, dispatch_uid="notifications.new_sign_in")
def on_sign_in(sender, request=None, user=None, **kwargs):
    """Notes the sign-in's address; a new one (for an account that has signed in from
    elsewhere before) is reported to the user."""
    if request is None or user is None or not user.pk:
        return
    try:
        address = client_ip(request)
        is_new = sign_in_address_record(user=user, ip_address=address)
    except Exception:
        # A sign-in must never fail because of this bookkeeping.
        logger.exception("notifications: could not record a sign-in address")
        return
    if not is_new:
        return
    user_id = user.pk
    data = {
        "username": user.get_username(),
        "ip_address": address,
        "signed_in_at": timezone.now(),
    }
    _after_commit(
        "new_sign_in",
        lambda: notify(event_type="new_sign_in", user_ids=[user_id], data=data),
    )
