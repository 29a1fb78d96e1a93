"""What patients/ does when other parts of the system announce something."""

from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import receiver

from medikeep.accounts.signals import user_registered
from patients import services
from patients.models import PatientPhoto


@receiver(user_registered, dispatch_uid="patients.self_record_on_registration")
def create_self_record(sender, *, user, invited=False, **kwargs):
    """Every new account starts with its own patient record, made active; except an account
    made from a portal invitation: that person's record is the patient they were invited
    to, kept by whoever manages it.

    Runs inside the registration transaction: no account without its record.
    """
    if not invited:
        services.self_record_for_new_user(user=user)


@receiver(post_delete, sender=PatientPhoto, dispatch_uid="patients.photo_file_cleanup")
def delete_photo_file(sender, instance, **kwargs):
    """The file goes with its row, however the row went (endpoint, cascade, admin), once the
    deletion has committed: a rolled-back deletion keeps its file."""
    if instance.file.name:
        services.file_delete_on_commit(storage=instance.file.storage, name=instance.file.name)
