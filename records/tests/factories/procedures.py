import datetime

import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import Procedure

__all__ = ["ProcedureFactory"]


class ProcedureFactory(PatientOwnedFactory):
    class Meta:
        model = Procedure

    procedure_name = factory.Sequence(lambda n: f"Procedure {n}")
    procedure_date = datetime.date(2024, 5, 2)
    status = "completed"
