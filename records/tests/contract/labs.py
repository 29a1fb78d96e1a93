from records.tests.contract import Case
from records.tests.factories import LabResultFactory, LabTestComponentFactory

CASES = [
    Case(
        "lab-results",
        LabResultFactory,
        create={
            "test_name": "Complete Blood Count",
            "test_code": "CBC",
            "test_category": "hematology",
            "test_type": "routine",
            "facility": "LabCorp",
            "status": "completed",
            "labs_result": "normal",
            "ordered_date": "2025-01-01",
            "completed_date": "2025-01-02",
            "tags": ["annual"],
        },
        update={"status": "cancelled"},
        invalid={"test_type": "someday", "labs_result": "great", "test_name": "x"},
    ),
    Case(
        "lab-test-components",
        LabTestComponentFactory,
        create={
            "test_name": "White Blood Cell Count",
            "abbreviation": "WBC",
            "value": 7.5,
            "unit": "x10*9/L",
            "ref_range_min": 4.5,
            "ref_range_max": 11.0,
            "category": "hematology",
        },
        update={"value": 12.5},
        relation=("lab_result_id", LabResultFactory),
        relation_required=True,
        invalid={"result_type": "narrative", "category": "astrology", "value": "lots"},
    ),
]
