"""The activity log listens to the patient core; the core never imports adminops."""

from __future__ import annotations

import logging

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from adminops import services
from patients.models import Patient
from patients.signals import record_changed

logger = logging.getLogger("adminops.activity")


@receiver(record_changed, dispatch_uid="adminops.activity_log")
def log_record_change(sender, *, user, instance, action, before=None, after=None, **kwargs):
    """One activity row per announced change.

    Runs after the user's transaction committed: a failure here must not turn a saved change
    into an error response, so it is logged and swallowed.
    """
    try:
        services.activity_record(
            user=user,
            instance=instance,
            action=action,
            before=before,
            after=after,
            patient_id=kwargs.get("patient_id"),
            ip_address=kwargs.get("ip_address"),
        )
    except Exception:
        logger.exception(
            "activity log: could not record %s of %s %s",
            action,
            getattr(sender, "__name__", sender),
            getattr(instance, "pk", None),
        )


@receiver(pre_delete, sender=Patient, dispatch_uid="adminops.erase_patient_activity")
def erase_patient_activity(sender, instance, **kwargs):
    """Erases a patient's activity rows in the transaction that deletes the patient.

    It cannot wait for `record_changed`: that comes after the commit, when the foreign key's
    SET_NULL has already cut the rows loose from the patient. Running here also covers
    deletions no view announces (the Django admin, a user's account deletion cascading to
    their patients). Errors propagate on purpose: better no deletion than a half erasure.
    """
    services.activity_erase_patient(patient_id=instance.pk)
