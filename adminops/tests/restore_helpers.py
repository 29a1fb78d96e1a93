"""Builders and fingerprints shared by the restore tests (also run inside subprocesses)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson

from adminops.tests.backup_helpers import store_file, use_backup_dir

# Log rows of the backups and restores themselves (a backup's own row comes after its
# snapshot, a restore's after its commit or its failure): not part of the data compared.
OPERATION_ACTIONS = (
    "backup_created",
    "backup_failed",
    "backup_uploaded",
    "restore_token_issued",
    "restore_completed",
    "restore_failed",
)


def use_storage_dirs(settings, tmp_path) -> Path:
    """Media (patient photos), entity files and backups under tmp_path, laid out as
    settings.py lays them out under MEDIA_ROOT, so a subprocess given MEDIKEEP_MEDIA_ROOT and
    BACKUP_DIR sees the same files."""
    media = tmp_path / "media"
    (media / "files").mkdir(parents=True, exist_ok=True)
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": media / "files",
                "file_permissions_mode": 0o600,
                "directory_permissions_mode": 0o700,
            },
        },
    }
    use_backup_dir(settings, tmp_path).mkdir(parents=True, exist_ok=True)
    return media


def seed(tag: str = "a") -> dict:
    """A household with a bit of everything: users, shared patients, records with dates,
    times, floats, JSON and many-to-many links, an IPv6 address, files (live and in the
    trash), a photo, log rows and a setting."""
    from datetime import time

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from adminops.models import ActivityLog
    from medikeep.accounts.models import SystemSetting
    from medikeep.accounts.tests.factories import AdminFactory, UserFactory
    from notifications.models import SignInAddress
    from patients.models import PatientPhoto
    from patients.tests.factories import PatientFactory, PatientShareFactory
    from records.tests.factories import (
        ConditionFactory,
        LabTestComponentFactory,
        MedicationFactory,
        SymptomOccurrenceFactory,
        VitalsFactory,
    )

    owner = UserFactory(username=f"owner-{tag}")
    viewer = UserFactory(username=f"viewer-{tag}")
    AdminFactory(username=f"admin-{tag}")
    patient = PatientFactory(owner=owner, first_name=f"Pat {tag}", is_self_record=True)
    PatientShareFactory(patient=patient, grantee=viewer, level="view")
    medications = [MedicationFactory(patient=patient) for _ in range(3)]
    condition = ConditionFactory(patient=patient)
    condition.medications.set(medications[:2])
    VitalsFactory.create_batch(4, patient=patient)
    SymptomOccurrenceFactory(patient=patient, resolved=True, resolved_time=time(18, 5, 7, 250))
    SignInAddress.objects.create(user=owner, ip_address="2001:db8::1", last_seen_at=timezone.now())
    LabTestComponentFactory.create_batch(2, patient=patient)
    live = store_file(patient, f"%PDF-1.4 live {tag}\n".encode() * 50)
    trashed = store_file(patient, f"%PDF-1.4 trashed {tag}\n".encode(), trashed=True)
    photo = PatientPhoto.objects.create(
        patient=patient,
        file=ContentFile(f"jpeg bytes {tag}".encode(), name="photo.jpg"),
        file_size=12,
        width=1,
        height=1,
    )
    ActivityLog.objects.create(
        action="updated",
        entity_type="medication",
        entity_id=medications[0].pk,
        description=f"seeded {tag}",
        metadata={"zeta": 1, "alpha": {"b": [1, 2], "a": "é"}, "changed": ["dose"]},
    )
    SystemSetting.objects.update_or_create(
        key="allow_user_registration", defaults={"value": tag == "a"}
    )
    return {"patient": patient, "files": [live, trashed], "photo": photo, "owner": owner}


def _plain(value):
    from adminops.backups.database import _portable_default

    return _portable_default(value)


def table_hashes(*, using: str = "default") -> dict[str, list]:
    """{table: [row count, SHA-256 of its rows ordered by primary key]} for every table a
    restore replaces; values are normalised (JSON keys sorted) so vendors compare equal."""
    from adminops.backups.database import dump_models
    from adminops.backups.restore_db import kept_tables
    from adminops.models import ActivityLog

    kept = kept_tables()
    result = {}
    for model in dump_models():
        meta = model._meta
        if meta.db_table in kept:
            continue
        rows = model._base_manager.using(using).order_by(meta.pk.attname)
        if model is ActivityLog:
            rows = rows.exclude(action__in=OPERATION_ACTIONS)
        digest, count = hashlib.sha256(), 0
        names = [f.attname for f in meta.concrete_fields]
        for row in rows.values_list(*names).iterator(chunk_size=2000):
            digest.update(orjson.dumps(list(row), default=_plain, option=orjson.OPT_SORT_KEYS))
            count += 1
        result[meta.db_table] = [count, digest.hexdigest()]
    return result


def stored_files() -> dict[str, str]:
    """{"<storage>/<name>": SHA-256} of every file under MEDIA_ROOT (entity files and media),
    restore scratch files included, so a leftover would show."""
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    found = {}
    for directory, _subdirectories, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def flush_database() -> None:
    """Empties every table (as a fresh install would have them), keeping the backup list."""
    from django.core.management import call_command

    from adminops.models import Backup

    backups = list(Backup.objects.values())
    call_command("flush", interactive=False, verbosity=0)
    for values in backups:
        values.pop("created_by_id", None)
        Backup.objects.create(**values)
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:  # PostgreSQL: the sequence after the explicit ids
        for statement in connection.ops.sequence_reset_sql(no_style(), [Backup]):
            cursor.execute(statement)


def empty_storage() -> None:
    from django.conf import settings

    for directory, _subdirectories, files in os.walk(settings.MEDIA_ROOT):
        for name in files:
            os.unlink(Path(directory) / name)


def rewrite_archive(source, target, *, edit=None, table_counts=None, extra=()):
    """A copy of an archive with members changed by `edit(name, bytes) -> bytes` and a
    manifest that agrees with them (sizes, SHA-256, `table_counts` overrides), as a forger
    would make it; `extra` members are added at the end, unlisted."""
    from adminops.backups import archive
    from adminops.tests.backup_helpers import craft_archive

    with archive.open_archive(source) as opened:
        manifest = opened.manifest.to_dict()
        members = [(m.name, b"".join(m.chunks())) for m in opened.iter_members()]
    if edit is not None:
        members = [(name, edit(name, data)) for name, data in members]
    manifest["members"] = [
        {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in members
    ]
    for table in manifest["tables"]:
        table["rows"] = (table_counts or {}).get(table["table"], table["rows"])
    return craft_archive(
        target, [({"name": name}, data) for name, data in members] + list(extra), manifest=manifest
    )


def register(path, backup_type: str = "full"):
    """A Backup row for an archive placed in BACKUP_DIR by hand (no upload check)."""
    from adminops.backups.database import hash_file
    from adminops.models import Backup, BackupStatus

    size, digest = hash_file(path)
    return Backup.objects.create(
        backup_type=backup_type,
        status=BackupStatus.UPLOADED,
        filename=path.name,
        path=path.name,
        size_bytes=size,
        sha256=digest,
    )
