from patients.tests.factories import PatientOwnedFactory
from records.models import Gauge


class GaugeFactory(PatientOwnedFactory):
    class Meta:
        model = Gauge

    gauge_type = "mood"
    value = 6
