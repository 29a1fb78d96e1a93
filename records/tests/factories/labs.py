import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import LabResult, LabResultMedication, LabResultProcedure, LabTestComponent
from records.tests.factories.medications import MedicationFactory
from records.tests.factories.procedures import ProcedureFactory

__all__ = [
    "LabResultFactory",
    "LabResultMedicationFactory",
    "LabResultProcedureFactory",
    "LabTestComponentFactory",
]


class LabResultFactory(PatientOwnedFactory):
    class Meta:
        model = LabResult

    test_name = factory.Sequence(lambda n: f"Lab test {n}")
    test_code = "CBC"
    status = "completed"


class LabTestComponentFactory(PatientOwnedFactory):
    """A quantitative component of a lab result of the same patient."""

    class Meta:
        model = LabTestComponent

    lab_result = factory.SubFactory(LabResultFactory, patient=factory.SelfAttribute("..patient"))
    test_name = factory.Sequence(lambda n: f"Component {n}")
    value = 7.5
    unit = "x10*9/L"
    ref_range_min = 4.5
    ref_range_max = 11.0


class LabResultMedicationFactory(factory.django.DjangoModelFactory):
    """A link between a lab result and a medication of the same patient."""

    class Meta:
        model = LabResultMedication

    lab_result = factory.SubFactory(LabResultFactory)
    medication = factory.SubFactory(
        MedicationFactory, patient=factory.SelfAttribute("..lab_result.patient")
    )


class LabResultProcedureFactory(factory.django.DjangoModelFactory):
    """A link between a lab result and a procedure of the same patient."""

    class Meta:
        model = LabResultProcedure

    lab_result = factory.SubFactory(LabResultFactory)
    procedure = factory.SubFactory(
        ProcedureFactory, patient=factory.SelfAttribute("..lab_result.patient")
    )
