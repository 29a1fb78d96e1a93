from records.tests.contract import Case
from records.tests.factories import InjuryFactory

CASES = [
    Case(
        "injuries",
        InjuryFactory,
        create={
            "injury_name": "Left Ankle Sprain",
            "body_part": "Ankle",
            "laterality": "left",
            "date_of_injury": "2025-10-01",
            "severity": "moderate",
            "status": "active",
            "tags": ["sports"],
        },
        update={"status": "healing"},
        invalid={"laterality": "middle", "date_of_injury": "2999-01-01", "injury_name": "x"},
    ),
]
