from records.tests.contract import Case
from records.tests.factories import VitalsFactory

CASES = [
    Case(
        "vitals",
        VitalsFactory,
        create={
            "recorded_date": "2025-10-04T10:30:00Z",
            "systolic_bp": 120,
            "diastolic_bp": 80,
            "heart_rate": 72,
        },
        update={"heart_rate": 80},
        invalid={"systolic_bp": 300, "glucose_context": "after_lunch", "temperature": 200},
    ),
]
