import datetime

import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import EmergencyContact, Insurance

__all__ = ["EmergencyContactFactory", "InsuranceFactory"]


class InsuranceFactory(PatientOwnedFactory):
    class Meta:
        model = Insurance

    insurance_type = "medical"
    company_name = factory.Sequence(lambda n: f"Insurer {n}")
    member_name = "Alice Owner"
    member_id = factory.Sequence(lambda n: f"M{n:06d}")
    effective_date = datetime.date(2025, 1, 1)
    status = "active"


class EmergencyContactFactory(PatientOwnedFactory):
    class Meta:
        model = EmergencyContact

    name = factory.Sequence(lambda n: f"Contact {n}")
    relationship = "friend"
    phone_number = "+1 555 0100"
