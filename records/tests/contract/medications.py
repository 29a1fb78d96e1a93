from records.tests.contract import Case
from records.tests.factories import MedicationFactory

CASES = [
    Case(
        "medications",
        MedicationFactory,
        create={"medication_name": "Aspirin", "dosage": "100mg", "route": "oral"},
        update={"dosage": "200mg"},
        invalid={"medication_name": "A", "route": "by-wishing"},
    ),
]
