from records.tests.contract import Case
from records.tests.factories import FamilyConditionFactory, FamilyMemberFactory

CASES = [
    Case(
        "family-members",
        FamilyMemberFactory,
        create={
            "name": "John Doe Sr.",
            "relationship": "Father",
            "birth_date": "1960-05-20",
            "is_deceased": False,
            "medical_history": "Diabetes, Hypertension",
        },
        update={"relationship": "paternal_grandfather"},
        invalid={"relationship": "neighbour", "birth_year": 1800, "name": ""},
    ),
    Case(
        "family-conditions",
        FamilyConditionFactory,
        create={"condition_name": "Hypertension", "diagnosis_age": 45, "notes": "At 50"},
        update={"condition_type": "genetic"},
        invalid={"diagnosis_age": 130, "condition_type": "rare", "condition_name": "x"},
        relation=("family_member_id", FamilyMemberFactory),
        relation_required=True,
    ),
]
