import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import FamilyCondition, FamilyMember

__all__ = ["FamilyConditionFactory", "FamilyMemberFactory"]


class FamilyMemberFactory(PatientOwnedFactory):
    class Meta:
        model = FamilyMember

    name = factory.Sequence(lambda n: f"Relative {n}")
    relationship = "father"
    birth_year = 1955


class FamilyConditionFactory(PatientOwnedFactory):
    """A condition of a family member of the same patient."""

    class Meta:
        model = FamilyCondition

    family_member = factory.SubFactory(
        FamilyMemberFactory, patient=factory.SelfAttribute("..patient")
    )
    condition_name = factory.Sequence(lambda n: f"Family condition {n}")
    condition_type = "cardiovascular"
    diagnosis_age = 50
