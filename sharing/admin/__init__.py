"""Sharing in the Django admin, one module per flow."""

from sharing.admin import invitations  # noqa: F401
