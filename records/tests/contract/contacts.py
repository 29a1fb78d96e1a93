from records.tests.contract import Case
from records.tests.factories import EmergencyContactFactory, InsuranceFactory

CASES = [
    Case(
        "insurances",
        InsuranceFactory,
        create={
            "provider_name": "Blue Cross Blue Shield",
            "insurance_type": "medical",
            "policy_number": "ABC123456",
            "effective_date": "2025-01-01",
        },
        update={"status": "inactive"},
        invalid={"insurance_type": "life", "status": "lapsed", "coverage_details": [1]},
    ),
    Case(
        "emergency-contacts",
        EmergencyContactFactory,
        create={"name": "Jane Doe", "relationship": "Spouse", "phone_number": "+1234567890"},
        update={"relationship": "sibling"},
        invalid={"relationship": "boss", "phone_number": "call me", "email": "nope"},
    ),
]
