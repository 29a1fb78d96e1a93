import pytest

from patients.models import Patient
from records.models import Medication
from records.tests.factories import GaugeFactory, MedicationFactory

pytestmark = pytest.mark.django_db


def test_deleting_the_account_removes_its_patients_and_records(
    alice_api, alice, shared_patient, bob
):
    MedicationFactory.create_batch(3, patient=shared_patient)
    GaugeFactory(patient=shared_patient)
    kept = MedicationFactory()  # another user's
    response = alice_api.delete("/api/v1/users/me")
    assert response.status_code == 200
    body = response.json()
    assert body["deleted_patient_id"] == shared_patient.pk
    summary = body["deletion_summary"]
    assert summary["medications"] == 3 and summary["gauges"] == 1 and summary["patients"] == 1
    assert summary["patient_shares"] == 3
    assert not Patient.objects.filter(owner_id=alice.pk).exists()
    assert list(Medication.objects.all()) == [kept]
