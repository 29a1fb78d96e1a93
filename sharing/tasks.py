"""Sharing's background work: invitation emails and the hourly expiry sweep."""

from celery import shared_task

from sharing import mail
from sharing.models import Invitation
from sharing.services import invitations


@shared_task(
    name="sharing.tasks.send_invitation_email",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def send_invitation_email(invitation_id: int) -> bool:
    """Emails the recipient of an invitation; retried while the mail server is unreachable."""
    invitation = (
        Invitation.objects.select_related("sent_by", "sent_to").filter(pk=invitation_id).first()
    )
    return invitation is not None and mail.send_invitation_email(invitation)


@shared_task(name="sharing.tasks.expire_invitations_and_shares")
def expire_invitations_and_shares() -> dict:
    """Marks lapsed invitations expired and expired shares inactive (access itself already
    ended at the expiry: the access query checks it)."""
    return {
        "expired_invitations": invitations.expire_invitations(),
        "expired_shares": invitations.deactivate_expired_shares(),
    }


@shared_task(
    name="sharing.tasks.send_portal_invitation_email",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def send_portal_invitation_email(invitation_id: int) -> bool:
    """Emails a patient-portal invitation link, unless the invitation was answered or
    replaced meanwhile; retried while the mail server is unreachable."""
    from sharing.models import PortalInvitation, PortalInvitationStatus

    invitation = (
        PortalInvitation.objects.select_related("invited_by", "patient")
        .filter(pk=invitation_id, status=PortalInvitationStatus.PENDING)
        .first()
    )
    return invitation is not None and mail.send_portal_invitation_email(invitation)
