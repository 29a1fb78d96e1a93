"""Builders shared by the backup tests."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from django.core.files.base import ContentFile


def use_backup_dir(settings, tmp_path):
    """BACKUP_DIR under this test's tmp_path, no encryption unless a test asks for it."""
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_ENCRYPT = False
    settings.BACKUP_AGE_RECIPIENTS = ""
    settings.BACKUP_AGE_PASSPHRASE = ""
    settings.BACKUP_AGE_IDENTITIES = ""
    return settings.BACKUP_DIR


def store_file(patient, data: bytes, *, name: str = "scan.pdf", trashed: bool = False):
    """An entity file of a new medication of `patient`, its bytes in files.storage."""
    from django.utils import timezone

    from files import storage
    from files.models import EntityFile
    from records.tests.factories.medications import MedicationFactory

    medication = MedicationFactory(patient=patient)
    key = storage.save(f"medication/{hashlib.sha256(data).hexdigest()[:16]}.pdf", ContentFile(data))
    return EntityFile.objects.create(
        patient=patient,
        entity_type="medication",
        entity_id=medication.pk,
        file_name=name,
        stored_name=key,
        file_size=len(data),
        file_type="application/pdf",
        sha256=hashlib.sha256(data).hexdigest(),
        trashed_at=timezone.now() if trashed else None,
    )


def craft_archive(path, members, *, manifest=None):
    """A tar written by hand: `members` is [(TarInfo fields dict, bytes)]. First comes a
    manifest listing the regular members, or `manifest` as given (False: none at all)."""
    entries = []
    for fields, data in members:
        if fields.get("type", tarfile.REGTYPE) == tarfile.REGTYPE:
            digest = hashlib.sha256(data).hexdigest()
            entries.append({"name": fields["name"], "size": len(data), "sha256": digest})
    if manifest is None:
        manifest = {
            "format_version": 1,
            "app_version": "test",
            "created_at": "2026-01-01T00:00:00Z",
            "backup_type": "files",
            "database": None,
            "migrations": {},
            "tables": [],
            "members": entries,
            "warnings": [],
        }
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        if manifest is not False:
            raw = json.dumps(manifest).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        for fields, data in members:
            info = tarfile.TarInfo(fields["name"])
            for key, value in fields.items():
                setattr(info, key, value)
            if info.type == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path
