import datetime

import factory

from medikeep.accounts.tests.factories import UserFactory
from patients.models import Patient, PatientShare


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    owner = factory.SubFactory(UserFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    birth_date = datetime.date(1985, 6, 15)
    gender = "female"


class PatientShareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientShare

    patient = factory.SubFactory(PatientFactory)
    grantee = factory.SubFactory(UserFactory)
    level = "view"
    granted_by = factory.LazyAttribute(lambda share: share.patient.owner)


class PatientOwnedFactory(factory.django.DjangoModelFactory):
    """Base of record factories: a record of a new patient unless one is given."""

    class Meta:
        abstract = True

    patient = factory.SubFactory(PatientFactory)
