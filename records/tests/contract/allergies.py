from records.tests.contract import Case
from records.tests.factories import AllergyFactory, MedicationFactory

CASES = [
    Case(
        "allergies",
        AllergyFactory,
        create={"allergen": "Penicillin", "severity": "severe", "reaction": "Hives"},
        update={"status": "resolved"},
        relation=("medication_id", MedicationFactory),
        invalid={"severity": "deadly", "onset_date": "2999-01-01", "allergen": "P"},
    ),
]
