import datetime

import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Encounter

__all__ = ["EncounterFactory"]


class EncounterFactory(PatientOwnedFactory):
    class Meta:
        model = Encounter

    reason = factory.Sequence(lambda n: f"Visit {n}")
    date = factory.Sequence(lambda n: datetime.date(2024, 1, 1) + datetime.timedelta(days=n % 365))
    visit_type = "Office Visit"
