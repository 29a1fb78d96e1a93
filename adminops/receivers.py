"""The activity log listens to the patient core (the core never imports adminops) and to the
Django admin's own log of changes (see adminops/audit.py)."""

from __future__ import annotations

import logging

from django.contrib import admin
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.models import LogEntry
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from adminops import audit, services
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


@receiver(post_save, sender=LogEntry, dispatch_uid="adminops.admin_log_entry")
def log_admin_change(sender, instance: LogEntry, created: bool, raw: bool = False, **kwargs):
    """Every change an operator makes in the Django admin or through the admin API (both
    log it with a LogEntry) becomes an activity-log row naming the operator."""
    if created and not raw:
        audit.record_log_entry(instance)


class _OneEntryPerObject:
    """A ModelAdmin as Django's delete_selected action sees it, except that the deletions are
    logged one entry at a time: several entries are bulk-created, which sends no post_save,
    so the activity log would never hear of them."""

    def __init__(self, model_admin):
        self._model_admin = model_admin

    def __getattr__(self, name):
        return getattr(self._model_admin, name)

    def log_deletions(self, request, queryset):
        return [
            entry for obj in queryset for entry in self._model_admin.log_deletions(request, [obj])
        ]


@admin.action(permissions=["delete"], description=delete_selected.short_description)
def delete_selected_logged(model_admin, request, queryset):
    return delete_selected(_OneEntryPerObject(model_admin), request, queryset)


# Replaces the site-wide action under the same name: every ModelAdmin's "Delete selected".
admin.site.add_action(delete_selected_logged, "delete_selected")
