import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Medication


class MedicationFactory(PatientOwnedFactory):
    class Meta:
        model = Medication

    medication_name = factory.Sequence(lambda n: f"Medication {n}")
    dosage = "10mg"
    status = "active"
