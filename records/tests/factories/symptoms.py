from datetime import date, time

import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Symptom, SymptomOccurrence

__all__ = ["SymptomFactory", "SymptomOccurrenceFactory"]


class SymptomFactory(PatientOwnedFactory):
    """An active symptom; `resolved=True` gives a resolved one with its dates."""

    class Meta:
        model = Symptom

    symptom_name = factory.Sequence(lambda n: f"Symptom {n}")
    status = "active"
    resolved_date = None

    class Params:
        resolved = factory.Trait(
            status="resolved",
            first_occurrence_date=date(2025, 1, 10),
            resolved_date=date(2025, 2, 1),
        )


class SymptomOccurrenceFactory(PatientOwnedFactory):
    """An occurrence of a symptom of the same patient; `resolved=True` gives it its end."""

    class Meta:
        model = SymptomOccurrence

    symptom = factory.SubFactory(SymptomFactory, patient=factory.SelfAttribute("..patient"))
    occurrence_date = date(2025, 1, 15)
    severity = "moderate"
    duration = "2 hours"
    resolved_date = None
    resolved_time = None
    resolution_notes = ""

    class Params:
        resolved = factory.Trait(
            resolved_date=factory.SelfAttribute("occurrence_date"),
            resolved_time=time(18, 0),
            resolution_notes="Rested in a dark room",
        )
