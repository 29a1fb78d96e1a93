"""Announced when a user's two-factor sign-in changes, so the activity log (adminops) can
record it without accounts importing adminops.

Arguments: `user` (whose sign-in changed), `actor` (who did it: the user, or an admin for a
reset), `action` (one of MFA_ACTIONS), `ip_address`. Sent inside the transaction that makes
the change, so the audit row and the change are kept or lost together.
"""

from django.dispatch import Signal

MFA_ACTIONS = {
    "mfa_enabled": "Two-factor sign-in turned on",
    "mfa_disabled": "Two-factor sign-in turned off",
    "mfa_recovery_codes_renewed": "New two-factor recovery codes made",
    "mfa_reset": "Two-factor sign-in reset by an admin",
}

mfa_changed = Signal()
