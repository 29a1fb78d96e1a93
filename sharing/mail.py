"""The emails sharing sends, written here in plain text (no templates to keep in step)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from sharing.models import Invitation


def app_link(path: str) -> str:
    """An absolute link into this server for emails (APP_PUBLIC_URL, e.g. https://mk.home)."""
    return f"{settings.APP_PUBLIC_URL.rstrip('/')}/{path.lstrip('/')}"


def send_invitation_email(invitation: Invitation) -> bool:
    """Tells the recipient what was offered, by whom, until when, and where to answer.
    Returns False when the recipient has no email address."""
    recipient = invitation.sent_to
    if not recipient.email:
        return False
    sender = invitation.sent_by
    who = sender.full_name or sender.username
    lines = [
        f'{who} sent you an invitation on MediKeep: "{invitation.title}" '
        f"({invitation.permission_level} access).",
    ]
    if invitation.message:
        lines += ["", "Their message:", invitation.message]
    lines += [
        "",
        f"Answer the invitation (open until {invitation.expires_at:%Y-%m-%d %H:%M} UTC):",
        app_link(f"api/v1/invitations/{invitation.pk}"),
        "",
        "Sign in with your MediKeep account to accept or decline it. If you did not expect "
        "this invitation you can ignore this email; nothing is shared until you accept.",
    ]
    send_mail(
        subject=f"MediKeep: {invitation.title}",
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[recipient.email],
    )
    return True


def send_portal_invitation_email(invitation) -> bool:
    """Emails a PortalInvitation's link to its address: who invited whom, at what level,
    until when, and what to do with an account or without one."""
    if not invitation.email:
        return False
    sender = invitation.invited_by
    who = sender.full_name or sender.username
    patient = invitation.patient
    lines = [
        f"{who} invited you to the MediKeep patient portal of {patient.first_name} "
        f"{patient.last_name} ({invitation.permission_level} access).",
        "",
        f"Open this link (it works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC):",
        app_link(f"portal/join?token={invitation.token()}"),
        "",
        "New to MediKeep? Choose a user name and a password on that page and you are in.",
        f"Have an account for {invitation.email} already? Sign in with it and accept the "
        "invitation as the page explains; forgotten the password? Ask for a new one at "
        f"{app_link('password-reset')}.",
        "",
        "If you did not expect this invitation you can ignore this email; nothing is shared "
        "until you accept.",
    ]
    send_mail(
        subject=f"MediKeep: your patient portal invitation from {who}",
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
    )
    return True
