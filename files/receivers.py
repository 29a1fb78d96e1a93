"""Files follow their record: deleting a record or a patient moves its files to the trash;
exports ask for the files of the records they write."""

from __future__ import annotations

from functools import partial

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from files import services, storage
from files.entity_types import canonical_of
from files.selectors import live_files_of_records
from patients.models import Patient
from patients.signals import records_deleted
from records.export.attachments import Attachment, attachments_requested


@receiver(records_deleted, dispatch_uid="files.trash_with_records")
def trash_with_records(sender, *, model, ids, **kwargs) -> int:
    return services.trash_for_records(model=model, ids=ids, reason="record deleted")


@receiver(pre_delete, sender=Patient, dispatch_uid="files.trash_with_patient")
def trash_with_patient(sender, instance, **kwargs) -> None:
    # Before the delete, while the rows still point at the patient (the key is SET_NULL).
    services.trash_for_patient(patient_id=instance.pk)


@receiver(attachments_requested, dispatch_uid="files.attachments_for_export")
def attachments_for_export(sender, *, patient_id, records, **kwargs) -> list[Attachment]:
    """The live files of exported records; bytes are read from storage when the bundle is
    written, one file at a time."""
    models_by_name = {canonical_of(model): model for model in records}
    return [
        Attachment(
            model=models_by_name[row.entity_type],
            record_id=row.entity_id,
            file_id=row.pk,
            file_name=row.file_name,
            size=row.file_size,
            open_chunks=partial(storage.stream, row.stored_name),
        )
        for row in live_files_of_records(patient_id=patient_id, records=records)
    ]
