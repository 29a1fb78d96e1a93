from records.tests.contract import Case
from records.tests.factories import ConditionFactory

CASES = [
    Case(
        "conditions",
        ConditionFactory,
        create={"condition_name": "Hypertension", "status": "active", "severity": "moderate"},
        update={"status": "chronic"},
        invalid={"status": "gone", "onset_date": "2999-01-01"},
    ),
]
