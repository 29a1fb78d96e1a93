from records.tests.contract import Case
from records.tests.factories import ImmunizationFactory

CASES = [
    Case(
        "immunizations",
        ImmunizationFactory,
        create={
            "vaccine_name": "Tdap",
            "date_administered": "2024-09-01",
            "dose_number": 1,
            # Not in the (empty) test catalogue: ignored, the record is still created.
            "standardized_vaccine_who_code": "NotInTheCatalogue",
        },
        update={"lot_number": "LOT-77"},
        invalid={"date_administered": "2999-01-01", "route": "telepathic", "dose_number": 0},
    ),
]
