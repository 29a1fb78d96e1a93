"""Record factories, one module per record group."""

from records.tests.factories.allergies import *  # noqa: F403
from records.tests.factories.conditions import *  # noqa: F403
from records.tests.factories.contacts import *  # noqa: F403
from records.tests.factories.encounters import *  # noqa: F403
from records.tests.factories.family import *  # noqa: F403
from records.tests.factories.gauges import *  # noqa: F403
from records.tests.factories.immunizations import *  # noqa: F403
from records.tests.factories.injuries import *  # noqa: F403
from records.tests.factories.labs import *  # noqa: F403
from records.tests.factories.medications import *  # noqa: F403
from records.tests.factories.procedures import *  # noqa: F403
from records.tests.factories.symptoms import *  # noqa: F403
from records.tests.factories.treatments import *  # noqa: F403
from records.tests.factories.vitals import *  # noqa: F403
