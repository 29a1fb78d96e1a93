"""The Django admin pages of file migration jobs: listed and shown read-only, cancel action."""

from __future__ import annotations

import pytest

from files.models import FileMigrationJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(alice, bob):
    running = FileMigrationJob.objects.create(
        user=alice, target_backend="paperless", status="running", total_files=4, moved_files=1
    )
    ended = FileMigrationJob.objects.create(
        user=bob,
        target_backend="papra",
        status="failed",
        error="Papra is unreachable: the connection was refused.",
        failures=[{"file_id": 7, "file_name": "scan.pdf", "reason": "refused"}],
    )
    return running, ended


def test_admin_lists_and_shows_jobs_read_only(client, admin_user, jobs):
    running, ended = jobs
    client.force_login(admin_user)
    listing = client.get("/admin/files/filemigrationjob/?status=failed")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert f"/admin/files/filemigrationjob/{ended.pk}/change/" in text
    assert f"/admin/files/filemigrationjob/{running.pk}/change/" not in text
    assert client.get("/admin/files/filemigrationjob/?q=alice").status_code == 200
    detail = client.get(f"/admin/files/filemigrationjob/{ended.pk}/change/")
    assert detail.status_code == 200
    assert "connection was refused" in detail.content.decode()
    assert 'name="status"' not in detail.content.decode()  # no editable field
    assert client.get("/admin/files/filemigrationjob/add/").status_code == 403


def test_admin_cancel_action(client, admin_user, jobs):
    running, ended = jobs
    client.force_login(admin_user)
    response = client.post(
        "/admin/files/filemigrationjob/",
        {"action": "cancel_jobs", "_selected_action": [running.pk, ended.pk]},
    )
    assert response.status_code == 302
    running.refresh_from_db()
    ended.refresh_from_db()
    assert running.cancel_requested_at is not None and running.status == "running"
    assert ended.cancel_requested_at is None and ended.status == "failed"


def test_admin_pages_need_an_admin(client, alice, jobs):
    client.force_login(alice)
    response = client.get("/admin/files/filemigrationjob/")
    assert response.status_code == 302 and "login" in response["Location"]
