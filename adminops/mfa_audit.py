"""Two-factor sign-in changes in the activity log: turned on or off by the user, recovery
codes renewed, and above all an admin's reset (accounts announces them with `mfa_changed`;
accounts never imports adminops). Rows belong to no patient; no code or secret is kept."""

from __future__ import annotations

from django.dispatch import receiver

from adminops.models import ActivityLog
from medikeep.accounts.mfa.signals import MFA_ACTIONS, mfa_changed


@receiver(mfa_changed, dispatch_uid="adminops.mfa_activity")
def log_mfa_change(sender, *, user, actor, action, ip_address=None, **kwargs):
    """Written in the transaction of the change: a reset without its audit row cannot be."""
    ActivityLog.objects.create(
        user=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        entity_type="user",
        entity_id=user.pk,
        description=f"{MFA_ACTIONS.get(action, action)}: {user.username}",
        metadata={"user_id": user.pk, "username": user.username},
        ip_address=ip_address or None,
    )
