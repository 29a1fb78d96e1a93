"""Record types, one module per resource group; Django finds them all through this package."""

from records.models.conditions import *  # noqa: F403
from records.models.gauges import *  # noqa: F403
from records.models.medications import *  # noqa: F403
