import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import LabResult, LabTestComponent

__all__ = ["LabResultFactory", "LabTestComponentFactory"]


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
