from records.tests.contract import Case
from records.tests.factories import SymptomFactory, SymptomOccurrenceFactory

CASES = [
    Case(
        "symptoms",
        SymptomFactory,
        create={
            "symptom_name": "Headache",
            "body_part": "Head",
            "status": "active",
            "notes": "Recurring tension headaches",
            "typical_triggers": ["stress", "screens"],
            "tags": ["pain"],
        },
        update={"status": "resolved"},
        invalid={
            "status": "gone",
            "symptom_name": "",
            "first_occurrence_date": "2999-01-01",
            "resolved_date": "2999-01-01",
        },
    ),
    Case(
        "symptom-occurrences",
        SymptomOccurrenceFactory,
        create={
            "occurred_at": "2025-10-15T14:30:00Z",
            "severity": "moderate",
            "duration_minutes": 120,
            "notes": "Started after lunch, took ibuprofen",
        },
        update={"severity": "severe"},
        relation=("symptom_id", SymptomFactory),
        relation_required=True,
        invalid={
            "severity": "unbearable",
            "pain_scale": 11,
            "duration_minutes": 100001,
            "duration": "x" * 101,
            "resolved_time": "noon",
        },
    ),
]
