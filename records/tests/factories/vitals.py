import datetime

import factory
from django.utils import timezone

from patients.tests.factories import PatientOwnedFactory
from records.models import Vitals

__all__ = ["VitalsFactory"]


class VitalsFactory(PatientOwnedFactory):
    class Meta:
        model = Vitals

    # One reading an hour, going back from now, so that sequences have distinct dates.
    recorded_date = factory.Sequence(
        lambda n: timezone.now().replace(microsecond=0) - datetime.timedelta(hours=n + 1)
    )
    systolic_bp = 120
    diastolic_bp = 80
    heart_rate = 72
