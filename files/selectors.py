"""Reads of entity files with rules, for other apps (through signals they send)."""

from __future__ import annotations

from django.db.models import Q

from files.entity_types import canonical_of
from files.models import EntityFile


def live_files_of_records(*, patient_id: int, records: dict):
    """The patient's files (not in the trash) attached to the given records, in one query.

    `records` maps a record model to the ids (a list or an id subquery) of its records.
    """
    attached = Q(pk__in=[])
    for model, ids in records.items():
        name = canonical_of(model)
        if name is not None:
            attached |= Q(entity_type=name, entity_id__in=ids)
    return (
        EntityFile.objects.live()
        .filter(attached, patient_id=patient_id)
        .order_by("entity_type", "entity_id", "id")
    )
