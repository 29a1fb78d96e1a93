"""Sharing models, one module per flow; Django finds them all through this package."""

from sharing.models.invitations import *  # noqa: F403
