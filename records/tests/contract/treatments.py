from records.tests.contract import Case
from records.tests.factories import ConditionFactory, MedicalEquipmentFactory, TreatmentFactory

CASES = [
    Case(
        "treatments",
        TreatmentFactory,
        create={
            "treatment_name": "Physical Therapy",
            "start_date": "2025-10-01",
            "end_date": "2025-12-31",
            "frequency": "3 times per week",
            "status": "active",
            "mode": "simple",
        },
        update={"status": "completed"},
        relation=("condition_id", ConditionFactory),
        invalid={"treatment_name": "P", "status": "finished", "mode": "expert"},
    ),
    Case(
        "medical-equipment",
        MedicalEquipmentFactory,
        create={
            "equipment_name": "ResMed AirSense 11",
            "equipment_type": "cpap",
            "manufacturer": "ResMed",
            "status": "active",
        },
        update={"status": "replaced"},
        invalid={"equipment_type": "x", "status": "broken", "next_service_date": "soon"},
    ),
]
