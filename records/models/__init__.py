"""Record types, one module per resource group; Django finds them all through this package."""

from records.models.allergies import *  # noqa: F403
from records.models.conditions import *  # noqa: F403
from records.models.contacts import *  # noqa: F403
from records.models.directory import *  # noqa: F403
from records.models.encounters import *  # noqa: F403
from records.models.family import *  # noqa: F403
from records.models.gauges import *  # noqa: F403
from records.models.immunizations import *  # noqa: F403
from records.models.injuries import *  # noqa: F403
from records.models.lab_catalogue import *  # noqa: F403
from records.models.labs import *  # noqa: F403
from records.models.medications import *  # noqa: F403
from records.models.procedures import *  # noqa: F403
from records.models.reports import *  # noqa: F403
from records.models.search import *  # noqa: F403
from records.models.symptoms import *  # noqa: F403
from records.models.tags import *  # noqa: F403
from records.models.treatments import *  # noqa: F403
from records.models.vaccine_catalogue import *  # noqa: F403
from records.models.vitals import *  # noqa: F403
