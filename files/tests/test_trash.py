"""Trash and housekeeping: files follow their record and patient into the trash, restore,
purge after the retention window, the storage report, the activity log and the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from adminops.models import ActivityLog
from files import services, storage, tasks
from files.models import EntityFile
from files.tests.helpers import PDF, factory_for, upload_of
from records.models import LabResult, Medication

pytestmark = pytest.mark.django_db


@pytest.fixture
def medication(patient):
    return factory_for(Medication)(patient=patient)


def _upload(client, entity_type, entity_id):
    response = client.post(
        f"/api/v1/entity-files/{entity_type}/{entity_id}/files",
        {"file": upload_of("scan.pdf", PDF)},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return EntityFile.objects.get(pk=response.json()["id"])


def test_deleting_a_record_trashes_its_files(files_storage, alice_api, medication):
    stored = _upload(alice_api, "medication", medication.pk)
    assert alice_api.delete(f"/api/v1/medications/{medication.pk}").status_code in (200, 204)
    stored.refresh_from_db()
    assert stored.in_trash and stored.trash_reason == "record deleted"
    assert storage.exists(stored.stored_name)  # restorable until purged


def test_lab_result_delete_reports_its_files(local_files_storage, alice_api, patient):
    lab = factory_for(LabResult)(patient=patient)
    _upload(alice_api, "lab-result", lab.pk)
    _upload(alice_api, "lab-result", lab.pk)
    response = alice_api.delete(f"/api/v1/lab-results/{lab.pk}")
    assert response.json()["files_deleted"] == 2
    assert EntityFile.objects.live().count() == 0


def test_deleting_a_patient_trashes_its_files(local_files_storage, alice_api, patient, medication):
    stored = _upload(alice_api, "medication", medication.pk)
    patient.delete()
    stored.refresh_from_db()
    assert stored.in_trash and stored.patient_id is None
    # …and the purge later removes the bytes: nothing stays orphaned in storage.
    services.purge_expired_trash(now=timezone.now() + timedelta(days=8))
    assert not EntityFile.objects.exists()
    assert list(storage.all_names()) == []


def test_restore_and_refusal_when_the_record_is_gone(
    local_files_storage, alice_api, alice, medication
):
    stored = _upload(alice_api, "medication", medication.pk)
    services.trash(user=alice, entity_file=stored)
    services.restore(user=alice, entity_file=stored)
    stored.refresh_from_db()
    assert not stored.in_trash
    assert alice_api.get(f"/api/v1/entity-files/files/{stored.pk}").status_code == 200
    alice_api.delete(f"/api/v1/medications/{medication.pk}")
    stored.refresh_from_db()
    from medikeep.api.exceptions import BusinessRuleError

    with pytest.raises(BusinessRuleError):
        services.restore(user=alice, entity_file=stored)


def test_purge_respects_the_retention_window(files_storage, alice_api, alice, medication, settings):
    settings.FILES_TRASH_RETENTION_DAYS = 7
    kept = _upload(alice_api, "medication", medication.pk)
    old = _upload(alice_api, "medication", medication.pk)
    live = _upload(alice_api, "medication", medication.pk)
    services.trash(user=alice, entity_file=kept)
    services.trash(user=alice, entity_file=old)
    EntityFile.objects.filter(pk=old.pk).update(trashed_at=timezone.now() - timedelta(days=8))
    assert tasks.purge_expired_trash() == 1
    assert set(EntityFile.objects.values_list("pk", flat=True)) == {kept.pk, live.pk}
    assert not storage.exists(old.stored_name)
    assert storage.exists(kept.stored_name) and storage.exists(live.stored_name)


def test_storage_check_reports_both_kinds_of_orphan(files_storage, alice_api, medication):
    stored = _upload(alice_api, "medication", medication.pk)
    gone = _upload(alice_api, "medication", medication.pk)
    storage.delete(gone.stored_name)
    from django.core.files.base import ContentFile

    stray = storage.save("medication/stray.pdf", ContentFile(PDF, name="stray.pdf"))
    report = tasks.check_storage()
    assert report["orphaned_objects"] == [stray]
    assert report["rows_without_object"] == [gone.pk]
    assert stored.stored_name not in report["orphaned_objects"]


def test_files_of_records_deleted_behind_our_back_are_trashed(
    local_files_storage, alice_api, medication
):
    stored = _upload(alice_api, "medication", medication.pk)
    Medication.objects.filter(pk=medication.pk).delete()  # no signal, no announcement
    assert tasks.check_storage()["trashed_without_record"] == 1
    stored.refresh_from_db()
    assert stored.in_trash


def test_activity_log_rows(
    local_files_storage, alice_api, alice, medication, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stored = _upload(alice_api, "medication", medication.pk)
    with django_capture_on_commit_callbacks(execute=True):
        alice_api.put(
            f"/api/v1/entity-files/files/{stored.pk}/metadata", {"description": "x"}, format="json"
        )
    with django_capture_on_commit_callbacks(execute=True):
        alice_api.delete(f"/api/v1/entity-files/files/{stored.pk}")
    stored.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.restore(user=alice, entity_file=stored)
    rows = ActivityLog.objects.filter(entity_type="entity_file", entity_id=stored.pk)
    assert sorted(rows.values_list("action", flat=True)) == [
        "created",
        "deleted",
        "restored",
        "updated",
    ]
    assert all(row.patient_id == medication.patient_id for row in rows)


def test_admin_lists_filters_downloads_and_restores(
    local_files_storage, alice_api, alice, admin_user, medication, client
):
    stored = _upload(alice_api, "medication", medication.pk)
    trashed = _upload(alice_api, "medication", medication.pk)
    services.trash(user=alice, entity_file=trashed)
    client.force_login(admin_user)
    listing = client.get("/admin/files/entityfile/?trash=trashed")
    assert listing.status_code == 200
    assert f"/admin/files/entityfile/{trashed.pk}/change/" in listing.content.decode()
    assert f"/admin/files/entityfile/{stored.pk}/change/" not in listing.content.decode()
    assert client.get("/admin/files/entityfile/?q=scan&entity_type=medication").status_code == 200
    download = client.get(f"/admin/files/entityfile/{trashed.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    response = client.post(
        "/admin/files/entityfile/",
        {"action": "restore_from_trash", "_selected_action": [trashed.pk]},
    )
    assert response.status_code == 302
    trashed.refresh_from_db()
    assert not trashed.in_trash


def test_admin_download_needs_staff(local_files_storage, alice_api, medication, client, alice):
    stored = _upload(alice_api, "medication", medication.pk)
    client.force_login(alice)
    response = client.get(f"/admin/files/entityfile/{stored.pk}/download/")
    assert response.status_code == 302  # to the admin login
    assert "login" in response["Location"]
