"""Signals the patient core sends, so that the activity log and notifications can listen
without the core importing them."""

from django.dispatch import Signal

# Sent after a record (any PatientOwnedModel, or a Patient) is created, updated or deleted,
# once the transaction commits. Arguments: user, instance, action (RecordAction), before
# (dict of field values or None), after (dict or None), patient_id.
record_changed = Signal()

# Sent inside the transaction that deletes records of one type (the API and the admin send
# it), so that what hangs off a record (its files) goes with it or not at all. Arguments:
# model, ids (list), user. Receivers return how many dependent items they removed.
records_deleted = Signal()
