"""The files attached to exported records, asked for through a signal: records/ may not import
files/ (dependencies point files → records), so the files app answers it
(files/receivers.py) with what it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.dispatch import Signal

# Sent with `patient_id` and `records`: {record model: queryset of the exported record ids}.
# Receivers return a list of Attachment — live files only (the trash is not exported).
attachments_requested = Signal()


@dataclass(frozen=True)
class Attachment:
    model: type  # the record type the file is attached to
    record_id: int
    file_id: int
    file_name: str  # the uploader's cleaned name, never a path
    size: int
    open_chunks: Callable[[], Iterator[bytes]]  # reads the bytes from storage, in chunks


def attached_files(patient_id: int, records: dict) -> list[Attachment]:
    """Every live file attached to the given records of the patient."""
    found: list[Attachment] = []
    for _receiver, answer in attachments_requested.send(
        sender=Attachment, patient_id=patient_id, records=records
    ):
        found.extend(answer or ())
    return found
