"""The emergency link admin: lists links with their openings, shows the access log, revokes;
no link can be made there (it would have no token anybody knows)."""

import datetime as dt

import pytest
from django.utils import timezone

from interop.emergency import links
from interop.models import EmergencyLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(patient, alice):
    link, _ = links.link_create(
        patient_id=patient.pk,
        created_by=alice,
        expires_at=timezone.now() + dt.timedelta(hours=1),
        label="Trip",
    )
    return link


def test_pages_open_and_show_the_log(admin_client, anon, made):
    assert admin_client.get("/admin/interop/emergencylink/").status_code == 200
    assert (
        admin_client.get("/admin/interop/emergencylink/?revoked_at__isempty=1").status_code == 200
    )
    page = admin_client.get(f"/admin/interop/emergencylink/{made.pk}/change/")
    assert page.status_code == 200
    assert admin_client.get("/admin/interop/emergencylink/add/").status_code == 403


def test_revoke_action(admin_client, made):
    response = admin_client.post(
        "/admin/interop/emergencylink/",
        {"action": "revoke_links", "_selected_action": [made.pk]},
    )
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.revoked_at is not None
    assert not links.is_active(EmergencyLink.objects.get(pk=made.pk))
