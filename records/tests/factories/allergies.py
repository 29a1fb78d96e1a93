import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Allergy

__all__ = ["AllergyFactory"]


class AllergyFactory(PatientOwnedFactory):
    class Meta:
        model = Allergy

    allergen = factory.Sequence(lambda n: f"Allergen {n}")
    severity = "moderate"
    status = "active"
