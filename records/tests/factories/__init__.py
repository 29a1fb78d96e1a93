"""Record factories, one module per record group."""

from records.tests.factories.conditions import *  # noqa: F403
from records.tests.factories.gauges import *  # noqa: F403
from records.tests.factories.medications import *  # noqa: F403
