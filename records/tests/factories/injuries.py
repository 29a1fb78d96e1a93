import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Injury, InjuryType

__all__ = ["InjuryFactory", "InjuryTypeFactory"]


class InjuryTypeFactory(factory.django.DjangoModelFactory):
    """A user-made injury type (system types come from seed_system_injury_types)."""

    class Meta:
        model = InjuryType

    name = factory.Sequence(lambda n: f"Injury type {n}")
    description = "Made by a user"


class InjuryFactory(PatientOwnedFactory):
    class Meta:
        model = Injury

    injury_name = factory.Sequence(lambda n: f"Injury {n}")
    body_part = "Ankle"
    severity = "moderate"
    status = "active"
