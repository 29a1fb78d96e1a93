"""Sharing in the Django admin, one module per flow."""

from sharing.admin import family, invitations, portal  # noqa: F401
