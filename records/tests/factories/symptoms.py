from datetime import date

import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Symptom, SymptomOccurrence

__all__ = ["SymptomFactory", "SymptomOccurrenceFactory"]


class SymptomFactory(PatientOwnedFactory):
    class Meta:
        model = Symptom

    symptom_name = factory.Sequence(lambda n: f"Symptom {n}")
    status = "active"


class SymptomOccurrenceFactory(PatientOwnedFactory):
    """An occurrence of a symptom of the same patient."""

    class Meta:
        model = SymptomOccurrence

    symptom = factory.SubFactory(SymptomFactory, patient=factory.SelfAttribute("..patient"))
    occurrence_date = date(2025, 1, 15)
    severity = "moderate"
