"""Signals the patient core sends, so that the activity log and notifications can listen
without the core importing them."""

from django.dispatch import Signal

# Sent after a record (any PatientOwnedModel, or a Patient) is created, updated or deleted,
# once the transaction commits. Arguments: user, instance, action (RecordAction), before
# (dict of field values or None), after (dict or None), patient_id.
record_changed = Signal()
