"""Shares, invitations and portal rows in the Django admin, with their status/type filters."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sharing.models import Invitation

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation(alice, mallory, patient):
    row = Invitation.objects.create(
        sent_by=alice,
        sent_to=mallory,
        invitation_type="patient_share",
        title="Patient Record Share: Alice Owner",
        expires_at=timezone.now() + timedelta(days=1),
    )
    row.patients.set([patient])
    return row


@pytest.mark.parametrize(
    "page",
    [
        "/admin/sharing/invitation/",
        "/admin/sharing/invitation/?status__exact=pending&invitation_type__exact=patient_share",
        "/admin/sharing/invitation/add/",
        "/admin/sharing/familyhistoryshare/?is_active__exact=1",
        "/admin/sharing/portalinvitation/?status__exact=pending",
        "/admin/sharing/portalrequest/?status__exact=open&request_type__exact=rx_new",
        "/admin/patients/patientshare/?is_active__exact=1&level__exact=view",
    ],
)
def test_pages_open(admin_client, invitation, page):
    assert admin_client.get(page).status_code == 200


def test_an_invitation_is_found_by_status_and_recipient(admin_client, invitation):
    listed = admin_client.get("/admin/sharing/invitation/?status__exact=pending&q=mallory")
    assert "Patient Record Share: Alice Owner" in listed.content.decode()
    other = admin_client.get("/admin/sharing/invitation/?status__exact=accepted")
    assert "Patient Record Share: Alice Owner" not in other.content.decode()
    change = admin_client.get(f"/admin/sharing/invitation/{invitation.pk}/change/")
    assert change.status_code == 200
