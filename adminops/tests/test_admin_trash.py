"""/admin/trash: list, cleanup, restore and permanently-delete over the entity files' trash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from adminops.models import ActivityLog
from files import services, storage
from files.models import EntityFile
from files.tests.helpers import PDF, factory_for, upload_of
from files.tests.s3server import local_files_storage  # noqa: F401 - fixture found by name
from medikeep.api.exceptions import BusinessRuleError
from records.models import Medication

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_files_storage")]

BASE = "/api/v1/admin/trash"


@pytest.fixture
def medication(patient):
    return factory_for(Medication)(patient=patient)


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


def _upload(client, medication, name="scan.pdf"):
    response = client.post(
        f"/api/v1/entity-files/medication/{medication.pk}/files",
        {"file": upload_of(name, PDF)},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return EntityFile.objects.get(pk=response.json()["id"])


def _trashed(client, medication, name="scan.pdf"):
    """A file alice uploaded and then deleted through the API (so it sits in the trash)."""
    entity_file = _upload(client, medication, name)
    assert client.delete(f"/api/v1/entity-files/files/{entity_file.pk}").status_code == 200
    entity_file.refresh_from_db()
    assert entity_file.in_trash
    return entity_file


def _activity(entity_file_id, action):
    return ActivityLog.objects.filter(
        entity_type="entity_file", entity_id=entity_file_id, action=action
    )


# --- who may call ---------------------------------------------------------------------------

ENDPOINTS = [
    ("get", BASE),
    ("post", f"{BASE}/cleanup"),
    ("post", f"{BASE}/restore?trash_path=entity-file:1"),
    ("delete", f"{BASE}/permanently-delete?trash_path=entity-file:1"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_anonymous_is_401_and_a_user_403(anon, alice_api, method, url):
    assert getattr(anon, method)(url).status_code == 401
    response = getattr(alice_api, method)(url)
    assert response.status_code == 403
    assert response.json()["error"] == "Admin access required."


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_a_user_cannot_touch_the_trash(alice_api, medication, method, url):
    entity_file = _trashed(alice_api, medication)
    url = url.replace("entity-file:1", f"entity-file:{entity_file.pk}")
    EntityFile.objects.filter(pk=entity_file.pk).update(
        trashed_at=timezone.now() - timedelta(days=365)  # even an expired one stays
    )
    assert getattr(alice_api, method)(url).status_code == 403
    assert EntityFile.objects.trashed().filter(pk=entity_file.pk).exists()


# --- list -----------------------------------------------------------------------------------


def test_list_shows_the_trash_newest_first(admin_api, alice_api, alice, medication, settings):
    settings.FILES_TRASH_RETENTION_DAYS = 7
    _upload(alice_api, medication, "live.pdf")  # not in the trash: not listed
    older = _trashed(alice_api, medication, "older.pdf")
    EntityFile.objects.filter(pk=older.pk).update(trashed_at=timezone.now() - timedelta(days=1))
    newer = _trashed(alice_api, medication, "newer.pdf")

    response = admin_api.get(f"{BASE}/")
    assert response.status_code == 200
    items = response.json()
    assert [item["id"] for item in items] == [newer.pk, older.pk]
    item = items[0]
    assert item == {
        "id": newer.pk,
        "filename": "newer.pdf",
        "original_path": f"medication/{medication.pk}/newer.pdf",
        "trash_path": f"entity-file:{newer.pk}",
        "deleted_at": item["deleted_at"],
        "deleted_by": "alice",
        "reason": "deleted",
        "size_bytes": len(PDF),
        "file_type": "application/pdf",
        "entity_type": "medication",
        "entity_id": medication.pk,
        "patient_id": medication.patient_id,
        "restorable_until": item["restorable_until"],
        "restorable": True,
    }
    deleted_at = newer.trashed_at
    assert item["deleted_at"] == deleted_at.isoformat().replace("+00:00", "Z")
    until = (deleted_at + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    assert item["restorable_until"] == until


def test_a_file_whose_record_is_gone_is_listed_as_not_restorable(admin_api, alice_api, medication):
    entity_file = _upload(alice_api, medication)
    assert alice_api.delete(f"/api/v1/medications/{medication.pk}").status_code in (200, 204)
    (item,) = admin_api.get(BASE).json()
    assert item["id"] == entity_file.pk
    assert item["reason"] == "record deleted"
    assert item["deleted_by"] is None  # trashed with its record, not by a person
    assert item["restorable"] is False


def test_list_takes_the_same_number_of_queries_for_1_or_6_files(
    admin_api, alice_api, medication, django_assert_num_queries
):
    _trashed(alice_api, medication)
    # The admin's user, the admins' trash retention setting (read once), then the trash.
    with django_assert_num_queries(3):
        admin_api.get(BASE)
    for _ in range(5):
        _trashed(alice_api, medication)
    with django_assert_num_queries(3):
        assert len(admin_api.get(BASE).json()) == 6


# --- restore --------------------------------------------------------------------------------


def test_restore_from_a_json_body_puts_the_file_back_and_logs_the_operator(
    admin_api, admin_user, alice_api, medication, django_capture_on_commit_callbacks
):
    entity_file = _trashed(alice_api, medication)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            f"{BASE}/restore", {"trash_path": f"entity-file:{entity_file.pk}"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "success",
        "message": f"File restored to its record (medication {medication.pk}).",
        "file_id": entity_file.pk,
    }
    entity_file.refresh_from_db()
    assert not entity_file.in_trash
    assert alice_api.get(f"/api/v1/entity-files/files/{entity_file.pk}").status_code == 200
    (row,) = _activity(entity_file.pk, "restored")
    assert row.user == admin_user and row.patient_id == medication.patient_id


def test_restore_from_the_query_string_and_by_stored_name(admin_api, alice_api, medication):
    by_query = _trashed(alice_api, medication)
    response = admin_api.post(f"{BASE}/restore?trash_path=entity-file:{by_query.pk}")
    assert response.status_code == 200, response.content
    by_name = _trashed(alice_api, medication)
    response = admin_api.post(f"{BASE}/restore?trash_path={by_name.stored_name}")
    assert response.status_code == 200, response.content
    assert not EntityFile.objects.trashed().exists()


@pytest.mark.parametrize(
    "restore_path",
    ["", None, "{original}", "/{original}", "medication/{entity_id}", "./medication/{entity_id}/"],
)
def test_restore_path_may_name_the_original_place(admin_api, alice_api, medication, restore_path):
    entity_file = _trashed(alice_api, medication)
    if restore_path:
        restore_path = restore_path.format(
            original=f"medication/{medication.pk}/scan.pdf", entity_id=medication.pk
        )
    response = admin_api.post(
        f"{BASE}/restore",
        {"trash_path": f"entity-file:{entity_file.pk}", "restore_path": restore_path},
        format="json",
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "restore_path",
    [
        "medication/{other}/scan.pdf",  # another record
        "allergy/{entity_id}/scan.pdf",  # another type
        "medication/{entity_id}/renamed.pdf",  # the file keeps its name
        "medication",
        "uploads/trash/2025-01-01/scan.pdf",  # the reference's kind of path
        "../../etc",
    ],
)
def test_restore_path_elsewhere_is_refused(admin_api, alice_api, medication, patient, restore_path):
    entity_file = _trashed(alice_api, medication)
    other = factory_for(Medication)(patient=patient)
    response = admin_api.post(
        f"{BASE}/restore",
        {
            "trash_path": f"entity-file:{entity_file.pk}",
            "restore_path": restore_path.format(other=other.pk, entity_id=medication.pk),
        },
        format="json",
    )
    assert response.status_code == 422
    assert "restore_path" in response.json()["errors"]
    entity_file.refresh_from_db()
    assert entity_file.in_trash


def test_restore_refuses_when_the_record_is_gone(admin_api, alice_api, medication):
    entity_file = _upload(alice_api, medication)
    alice_api.delete(f"/api/v1/medications/{medication.pk}")
    response = admin_api.post(f"{BASE}/restore", {"trash_path": f"entity-file:{entity_file.pk}"})
    assert response.status_code == 400
    assert response.json()["error"] == "The record this file belonged to no longer exists."
    entity_file.refresh_from_db()
    assert entity_file.in_trash


def test_restore_refuses_when_the_patient_is_gone(admin_api, alice_api, medication, patient):
    entity_file = _trashed(alice_api, medication)
    patient.delete()
    response = admin_api.post(f"{BASE}/restore", {"trash_path": f"entity-file:{entity_file.pk}"})
    assert response.status_code == 400
    assert EntityFile.objects.trashed().filter(pk=entity_file.pk).exists()


def test_restore_without_trash_path_is_422(admin_api):
    for response in (
        admin_api.post(f"{BASE}/restore"),
        admin_api.post(f"{BASE}/restore", {}, format="json"),
        admin_api.post(f"{BASE}/restore", {"trash_path": ""}, format="json"),
    ):
        assert response.status_code == 422
        assert "trash_path" in response.json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"trash_path": ["entity-file:1"]},
        {"trash_path": {"id": 1}},
        {"trash_path": True},
        {"trash_path": "x" * 1001},
        ["entity-file:1"],  # not an object: no trash_path at all
    ],
)
def test_restore_with_a_malformed_trash_path_is_422(admin_api, body):
    response = admin_api.post(f"{BASE}/restore", body, format="json")
    assert response.status_code == 422


@pytest.mark.parametrize(
    "trash_path",
    [
        "entity-file:999999",
        "entity-file:99999999999999999999999999",  # beyond any database integer
        "999999",
        "entity-file:",
        "entity-file:-1",
        "medication/nothing.pdf",
        "../../etc/passwd",
        "entity-file:١٢",  # digits, but not ASCII ones
    ],
)
def test_restore_of_an_unknown_trash_path_is_404(admin_api, trash_path):
    response = admin_api.post(f"{BASE}/restore", {"trash_path": trash_path}, format="json")
    assert response.status_code == 404
    assert "trash_path" in response.json()["error"]


def test_a_file_not_in_the_trash_is_not_found_there(admin_api, alice_api, medication):
    live = _upload(alice_api, medication)
    response = admin_api.post(f"{BASE}/restore?trash_path=entity-file:{live.pk}")
    assert response.status_code == 404
    response = admin_api.delete(f"{BASE}/permanently-delete?trash_path=entity-file:{live.pk}")
    assert response.status_code == 404
    assert storage.exists(live.stored_name)


# --- permanently-delete ---------------------------------------------------------------------


def test_permanently_delete_removes_bytes_and_row_and_logs_the_operator(
    admin_api, admin_user, alice_api, medication, django_capture_on_commit_callbacks
):
    entity_file = _trashed(alice_api, medication)
    kept = _trashed(alice_api, medication)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.delete(
            f"{BASE}/permanently-delete?trash_path=entity-file:{entity_file.pk}"
        )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "success",
        "message": "File permanently deleted.",
        "file_id": entity_file.pk,
    }
    assert not EntityFile.objects.filter(pk=entity_file.pk).exists()
    assert not storage.exists(entity_file.stored_name)
    assert storage.exists(kept.stored_name)
    (row,) = _activity(entity_file.pk, "purged")
    assert row.user == admin_user and row.patient_id == medication.patient_id
    assert row.metadata["before"]["stored_name"] == entity_file.stored_name
    # Gone for good: a second call finds nothing.
    response = admin_api.delete(
        f"{BASE}/permanently-delete?trash_path=entity-file:{entity_file.pk}"
    )
    assert response.status_code == 404


def test_permanently_delete_of_an_orphan_whose_patient_is_gone(
    admin_api, alice_api, medication, patient
):
    entity_file = _trashed(alice_api, medication)
    patient.delete()
    response = admin_api.delete(f"{BASE}/permanently-delete?trash_path={entity_file.stored_name}")
    assert response.status_code == 200
    assert not EntityFile.objects.exists()
    assert list(storage.all_names()) == []


def test_permanently_delete_needs_a_trash_path(admin_api):
    response = admin_api.delete(f"{BASE}/permanently-delete")
    assert response.status_code == 422
    assert "trash_path" in response.json()["errors"]
    response = admin_api.delete(f"{BASE}/permanently-delete?trash_path=entity-file:abc")
    assert response.status_code == 404


def test_purge_refuses_a_file_that_is_not_in_the_trash(alice_api, alice, medication):
    live = _upload(alice_api, medication)
    with pytest.raises(BusinessRuleError):
        services.purge(user=alice, entity_file=live)
    assert storage.exists(live.stored_name)


# --- cleanup --------------------------------------------------------------------------------


def test_cleanup_purges_only_expired_files_and_reports_them(
    admin_api,
    admin_user,
    alice_api,
    medication,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.FILES_TRASH_RETENTION_DAYS = 7
    expired = [_trashed(alice_api, medication) for _ in range(2)]
    EntityFile.objects.filter(pk__in=[f.pk for f in expired]).update(
        trashed_at=timezone.now() - timedelta(days=8)
    )
    fresh = _trashed(alice_api, medication)
    live = _upload(alice_api, medication)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"{BASE}/cleanup")
    assert response.status_code == 200
    assert response.json() == {
        "deleted_count": 2,
        "freed_bytes": 2 * len(PDF),
        "deleted_files": 2,
        "deleted_dirs": 0,
    }
    assert set(EntityFile.objects.values_list("pk", flat=True)) == {fresh.pk, live.pk}
    assert not any(storage.exists(f.stored_name) for f in expired)
    rows = ActivityLog.objects.filter(action="purged")
    assert sorted(rows.values_list("entity_id", flat=True)) == sorted(f.pk for f in expired)
    assert {row.user for row in rows} == {admin_user}

    # Nothing left to do: a second run answers zeros.
    assert admin_api.post(f"{BASE}/cleanup").json()["deleted_count"] == 0
