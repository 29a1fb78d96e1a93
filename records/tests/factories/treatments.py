import datetime

import factory

from patients.tests.factories import PatientOwnedFactory
from records.models import MedicalEquipment, Treatment

__all__ = ["MedicalEquipmentFactory", "TreatmentFactory"]


class TreatmentFactory(PatientOwnedFactory):
    class Meta:
        model = Treatment

    treatment_name = factory.Sequence(lambda n: f"Treatment {n}")
    start_date = datetime.date(2025, 1, 1)
    status = "active"


class MedicalEquipmentFactory(PatientOwnedFactory):
    class Meta:
        model = MedicalEquipment

    equipment_name = factory.Sequence(lambda n: f"Device {n}")
    equipment_type = "cpap"
    status = "active"
