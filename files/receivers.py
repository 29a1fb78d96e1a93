"""Files follow their record: deleting a record or a patient moves its files to the trash."""

from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from files import services
from patients.models import Patient
from patients.signals import records_deleted


@receiver(records_deleted, dispatch_uid="files.trash_with_records")
def trash_with_records(sender, *, model, ids, **kwargs) -> int:
    return services.trash_for_records(model=model, ids=ids, reason="record deleted")


@receiver(pre_delete, sender=Patient, dispatch_uid="files.trash_with_patient")
def trash_with_patient(sender, instance, **kwargs) -> None:
    # Before the delete, while the rows still point at the patient (the key is SET_NULL).
    services.trash_for_patient(patient_id=instance.pk)
