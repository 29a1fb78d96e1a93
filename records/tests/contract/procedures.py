from records.tests.contract import Case
from records.tests.factories import ConditionFactory, ProcedureFactory

CASES = [
    Case(
        "procedures",
        ProcedureFactory,
        create={
            "procedure_name": "Blood Draw",
            "procedure_date": "2025-10-04",
            "status": "completed",
        },
        update={"outcome": "successful"},
        relation=("condition_id", ConditionFactory),
        invalid={"procedure_name": "B", "status": "finished", "procedure_duration": 2000},
    ),
]
