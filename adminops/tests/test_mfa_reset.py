"""/admin/user-management/users/{id}/mfa: an admin resets a user's two-factor sign-in."""

import pytest

from adminops.models import ActivityLog
from medikeep.accounts.mfa.models import MFALoginChallenge, RecoveryCode, TOTPDevice
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from medikeep.accounts.tests.mfa_support import clock_fixture, enrol  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def url(user_id) -> str:
    return f"/api/v1/admin/user-management/users/{user_id}/mfa"


@pytest.fixture
def enrolled_alice(alice, clock):
    enrolled = enrol(alice, clock)
    ActivityLog.objects.all().delete()  # only the reset's row matters here
    return enrolled


def test_admin_reset_removes_everything_and_is_logged(
    client_for, admin_user, alice, enrolled_alice, anon
):
    anon.post("/api/v1/auth/login", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert MFALoginChallenge.objects.filter(user=alice).exists()
    response = client_for(admin_user).delete(url(alice.pk), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reset"] is True and body["mfa_enabled"] is False
    assert body["user_id"] == alice.pk and body["username"] == "alice"
    for model in (TOTPDevice, RecoveryCode, MFALoginChallenge):
        assert not model.objects.filter(user=alice).exists()
    row = ActivityLog.objects.get()
    assert row.action == "mfa_reset"
    assert (row.user_id, row.entity_type, row.entity_id) == (admin_user.pk, "user", alice.pk)
    assert row.ip_address == "203.0.113.9"
    assert enrolled_alice.secret not in repr(row.metadata) + row.description
    # Alice signs in with her password alone again.
    login = anon.post("/api/v1/auth/login", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert "access_token" in login.json()


def test_post_form_of_the_reset(client_for, admin_user, alice, enrolled_alice):
    response = client_for(admin_user).post(url(alice.pk) + "/reset")
    assert response.status_code == 200 and response.json()["reset"] is True
    assert ActivityLog.objects.filter(action="mfa_reset").count() == 1


def test_user_without_mfa_is_not_logged(client_for, admin_user, bob):
    response = client_for(admin_user).delete(url(bob.pk))
    assert response.status_code == 200 and response.json()["reset"] is False
    assert not ActivityLog.objects.exists()


def test_non_admin_is_403_and_nothing_changes(client_for, bob, alice, enrolled_alice):
    response = client_for(bob).delete(url(alice.pk))
    assert response.status_code == 403
    assert response.json()["status"] == "error"
    # Not even one's own second factor can be reset here.
    assert client_for(alice).delete(url(alice.pk)).status_code == 403
    assert TOTPDevice.objects.filter(user=alice, confirmed_at__isnull=False).exists()
    assert not ActivityLog.objects.exists()


def test_anonymous_is_401(anon, alice, enrolled_alice):
    assert anon.delete(url(alice.pk)).status_code == 401
    assert anon.post(url(alice.pk) + "/reset").status_code == 401


@pytest.mark.parametrize("user_id", [999999, 2**63])
def test_unknown_user_is_404(client_for, admin_user, user_id):
    response = client_for(admin_user).delete(url(user_id))
    assert response.status_code == 404
    assert response.json()["status"] == "error"


def test_other_methods_are_405(client_for, admin_user, alice):
    assert client_for(admin_user).get(url(alice.pk)).status_code == 405
    assert client_for(admin_user).post(url(alice.pk)).status_code == 405


def test_reset_row_in_the_admin_activity_log(client_for, admin_user, alice, enrolled_alice):
    client_for(admin_user).delete(url(alice.pk))
    response = client_for(admin_user).get("/api/v1/admin/activity-log", {"action": "mfa_reset"})
    assert response.status_code == 200, response.content
    text = response.content.decode()
    assert "mfa_reset" in text and "alice" in text
    assert enrolled_alice.secret not in text
