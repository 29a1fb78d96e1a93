"""Sharing models, one module per flow; Django finds them all through this package."""

from sharing.models.family import *  # noqa: F403
from sharing.models.invitations import *  # noqa: F403
from sharing.models.portal import *  # noqa: F403
