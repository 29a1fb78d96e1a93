import factory

from medikeep.accounts.tests.factories import UserFactory
from records.models import MedicalSpecialty, Pharmacy, Practice, Practitioner

__all__ = [
    "MedicalSpecialtyFactory",
    "PharmacyFactory",
    "PracticeFactory",
    "PractitionerFactory",
]


class DirectoryFactory(factory.django.DjangoModelFactory):
    """Base of directory factories: an entry added by a new user unless one is given."""

    class Meta:
        abstract = True

    created_by = factory.SubFactory(UserFactory)


class MedicalSpecialtyFactory(DirectoryFactory):
    class Meta:
        model = MedicalSpecialty

    name = factory.Sequence(lambda n: f"Specialty {n}")
    category = "medical"
    description = "A test specialty"


class PracticeFactory(DirectoryFactory):
    class Meta:
        model = Practice

    name = factory.Sequence(lambda n: f"Practice {n}")
    phone_number = "+1 919 555 0100"


class PractitionerFactory(DirectoryFactory):
    class Meta:
        model = Practitioner

    name = factory.Sequence(lambda n: f"Dr. Test {n}")
    specialty = factory.SubFactory(MedicalSpecialtyFactory)
    practice = factory.SubFactory(PracticeFactory)
    rating = 4.5


class PharmacyFactory(DirectoryFactory):
    class Meta:
        model = Pharmacy

    name = factory.Sequence(lambda n: f"Pharmacy {n}")
    brand = "CVS"
    city = "Anytown"
    state = "NC"
    zip_code = "27514"
