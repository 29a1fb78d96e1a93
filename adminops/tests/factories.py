import factory

from adminops.models import ActivityLog
from medikeep.accounts.tests.factories import UserFactory
from patients.tests.factories import PatientFactory


class ActivityLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivityLog

    user = factory.SubFactory(UserFactory)
    patient = factory.SubFactory(PatientFactory)
    patient_label = factory.LazyAttribute(lambda row: str(row.patient) if row.patient else "")
    action = "created"
    entity_type = "medication"
    entity_id = factory.Sequence(lambda n: n + 1)
    description = factory.LazyAttribute(lambda row: f"Created Medication: #{row.entity_id}")
    metadata = factory.LazyFunction(lambda: {"before": None, "after": {}, "changed": []})
