import datetime

import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Immunization

__all__ = ["ImmunizationFactory"]


class ImmunizationFactory(PatientOwnedFactory):
    class Meta:
        model = Immunization

    vaccine_name = factory.Sequence(lambda n: f"Vaccine {n}")
    date_administered = datetime.date(2024, 3, 15)
    dose_number = 1
