from records.tests.contract import Case
from records.tests.factories import GaugeFactory, MedicationFactory

CASES = [
    Case(
        "gauges",
        GaugeFactory,
        create={"gauge_type": "mood", "value": 7},
        update={"value": 3},
        relation=("medication_id", MedicationFactory),
        invalid={"value": 11},
    ),
]
