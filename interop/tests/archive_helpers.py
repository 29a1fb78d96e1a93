"""Builders and comparisons shared by the archive tests."""

from __future__ import annotations

import datetime
import io
import zipfile

from django.db import models
from django.utils import timezone

from files import services
from files.entity_types import find_type
from files.tests.helpers import PDF, factory_for, upload_of
from interop.archive import tables as t
from medikeep import crypto
from notifications import channels
from notifications.models import NotificationChannel, NotificationPreference
from patients.models import PatientPhoto, record_models
from patients.tests.factories import PatientFactory
from records.models.medications import MedicationDose
from records.models.tags import UserTag
from records.tests import factories as f

BOT_TOKEN = "123456789:AAHsecretSECRETsecretSECRETsecret12"
PAPERLESS_TOKEN = "paperless-token-that-must-stay-home"


def jpeg_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def build_account(user, *, patients: int = 2):
    """`user` with patients holding a record of every kind, every link family, a dose, tags,
    a file, a photo, a secret-bearing channel with a preference and secret preferences."""
    made = []
    has_self = user.owned_patients.filter(is_self_record=True).exists()
    offset = user.owned_patients.count()  # unique directory names when called again
    for number in range(offset, offset + patients):
        patient = PatientFactory(owner=user, is_self_record=number == offset and not has_self)
        made.append(patient)
        records = {}
        for model in sorted(record_models(), key=t.label_of):
            records[model] = factory_for(model)(patient=patient)
        # References: a prescriber with a practice and a pharmacy.
        practitioner = f.PractitionerFactory(
            name=f"Dr Archive {number}", practice=f.PracticeFactory(name=f"Clinic {number}")
        )
        medication = next(r for m, r in records.items() if m.__name__ == "Medication")
        medication.practitioner = practitioner
        medication.pharmacy = f.PharmacyFactory(name=f"Corner Pharmacy {number}")
        medication.tags = ["daily", "heart"]
        medication.save()
        patient.physician = practitioner
        patient.save()
        for link in t.link_models():
            first, second = (link._meta.get_field(side) for side in link.link_sides)
            by_model = {type(r): r for r in records.values()}
            link.objects.create(
                **{
                    first.name: by_model[first.related_model],
                    second.name: by_model[second.related_model],
                }
            )
        MedicationDose.objects.create(
            medication=medication,
            slot=timezone.now().replace(microsecond=0) - datetime.timedelta(hours=number + 1),
            status="taken",
            recorded_by=user,
        )
        entity = find_type("medication")
        services.upload(
            user=user,
            entity=entity,
            entity_id=medication.pk,
            patient_id=patient.pk,
            upload=_hashed(upload_of(f"report-{number}.pdf", PDF, "application/pdf")),
        )
        photo = PatientPhoto(
            patient=patient, file_size=0, width=8, height=8, original_name="me.jpg"
        )
        content = jpeg_bytes()
        from django.core.files.base import ContentFile

        photo.file.save("photo.jpg", ContentFile(content), save=False)
        photo.file_size = len(content)
        photo.save()
    if offset:
        return made
    UserTag.objects.create(user=user, tag="heart", color="#aa0000")
    UserTag.objects.create(user=user, tag="daily")
    channel = NotificationChannel(user=user, name="Telegram", channel_type="telegram")
    channels.store_config(channel, {"bot_token": BOT_TOKEN, "chat_id": "987654321"})
    channel.save()
    NotificationPreference.objects.create(user=user, channel=channel, event_type="invitation")
    from medikeep.accounts.models import UserPreference

    preference, _ = UserPreference.objects.get_or_create(user=user)
    preference.theme = "dark"
    preference.paperless_url = "https://paperless.example.org"
    preference.paperless_secrets = crypto.encrypt_json({"api_token": PAPERLESS_TOKEN})
    preference.save()
    return made


def _hashed(upload):
    import hashlib

    upload.sha256 = hashlib.sha256(upload.read()).hexdigest()
    upload.seek(0)
    return upload


# Fields that differ by design after an import.
IGNORED = {
    "notifications.notificationchannel": {
        "is_enabled",
        "is_verified",
        "last_test_at",
        "last_test_status",
    },
    "files.entityfile": {"stored_name"},
    "patients.patientphoto": {"file"},
    "accounts.userpreference": {"paperless_enabled", "papra_enabled", "updated_at"},
}


def snapshot(user) -> dict[str, list[dict]]:
    """Every carried table of `user`, with ids replaced by positions (or names for reference
    entries) so two accounts compare equal when their content is the same."""
    patient_ids = list(user.owned_patients.values_list("pk", flat=True))
    positions: dict[str, dict[int, int]] = {}
    rows: dict[str, list] = {}
    for table in t.tables():
        if table.role == "identifier":
            continue
        objects = list(t.owned_rows(table, user, patient_ids))
        positions[table.label] = {obj.pk: index for index, obj in enumerate(objects)}
        rows[table.label] = objects
    result = {}
    for label, objects in rows.items():
        model = t.table_for(label).model
        result[label] = [_normal(label, model, obj, user, positions) for obj in objects]
    return result


def _normal(label, model, obj, user, positions) -> dict:
    row = {}
    for field in t.carried_fields(model):
        if field.primary_key or field.name in IGNORED.get(label, ()):
            continue
        value = getattr(obj, field.attname)
        if t.is_fk(field) and value is not None:
            target = field.related_model
            if t.is_user_model(target):
                value = "me" if value == user.pk else "someone"
            elif t.label_of(target) in positions:
                value = ("row", positions[t.label_of(target)].get(value))
            else:
                value = ("ref", str(target._default_manager.get(pk=value)))
        elif label == "files.entityfile" and field.name == "entity_id":
            entity = find_type(obj.entity_type)
            value = ("row", positions[t.label_of(entity.model)].get(value))
        elif isinstance(field, models.FileField):
            value = bool(value)
        row[field.name] = value
    return row


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}
