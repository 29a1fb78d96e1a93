import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Condition

__all__ = ["ConditionFactory"]


class ConditionFactory(PatientOwnedFactory):
    class Meta:
        model = Condition

    condition_name = factory.Sequence(lambda n: f"Condition {n}")
    status = "active"
