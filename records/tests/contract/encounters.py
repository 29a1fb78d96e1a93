from records.tests.contract import Case
from records.tests.factories import ConditionFactory, EncounterFactory

CASES = [
    Case(
        "encounters",
        EncounterFactory,
        create={
            "reason": "Annual checkup",
            "date": "2025-01-15",
            "visit_type": "Office Visit",
            "priority": "routine",
        },
        update={"reason": "Follow-up visit"},
        relation=("condition_id", ConditionFactory),
        invalid={"priority": "whenever", "duration_minutes": 601, "date": "2999-01-01"},
    ),
]
