"""The Django admin's sign-in asks operators with two-factor sign-in on for their code; the
admin action that resets a user's second factor."""

import pytest
from django.test import Client

from adminops.models import ActivityLog
from medikeep.accounts.mfa.models import TOTPDevice
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from medikeep.accounts.tests.mfa_support import clock_fixture, enrol  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"


def admin_login(client, username, code=None):
    data = {"username": username, "password": DEFAULT_PASSWORD, "next": "/admin/"}
    if code is not None:
        data["otp_code"] = code
    return client.post(ADMIN_LOGIN, data)


def signed_in(client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.fixture
def operator(admin_user, clock):
    return admin_user, enrol(admin_user, clock)


def test_login_page_shows_the_code_field():
    page = Client().get(ADMIN_LOGIN)
    assert page.status_code == 200
    assert b'name="otp_code"' in page.content and b'name="password"' in page.content


def test_operator_without_code_is_refused(operator):
    user, _ = operator
    client = Client()
    response = admin_login(client, user.username)
    assert response.status_code == 200
    assert b"two-factor sign-in" in response.content
    assert not signed_in(client)


def test_operator_with_wrong_code_is_refused(operator, clock):
    user, enrolled = operator
    right = enrolled.code(clock)
    client = Client()
    response = admin_login(client, user.username, f"{(int(right) + 1) % 1_000_000:06d}")
    assert response.status_code == 200
    assert not signed_in(client)
    assert TOTPDevice.objects.get(user=user).failed_attempts == 1


def test_wrong_password_with_right_code_is_refused(operator, clock):
    user, enrolled = operator
    client = Client()
    client.post(
        ADMIN_LOGIN,
        {"username": user.username, "password": "Wrong-pass-1", "otp_code": enrolled.code(clock)},
    )
    assert not signed_in(client)
    # The password failed first: the code was neither checked nor used up.
    assert TOTPDevice.objects.get(user=user).last_used_step is not None
    assert admin_login(Client(), user.username, enrolled.code(clock)).status_code == 302


def test_operator_with_right_code_is_accepted_once(operator, clock):
    user, enrolled = operator
    code = enrolled.code(clock)
    client = Client()
    response = admin_login(client, user.username, code)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert signed_in(client)
    # The same code in the same step does not open a second session.
    other = Client()
    admin_login(other, user.username, code)
    assert not signed_in(other)


def test_operator_with_a_recovery_code(operator):
    user, enrolled = operator
    client = Client()
    assert admin_login(client, user.username, enrolled.recovery_codes[0]).status_code == 302
    assert signed_in(client)


def test_operator_without_mfa_needs_no_code(admin_user):
    client = Client()
    assert admin_login(client, admin_user.username).status_code == 302
    assert signed_in(client)


def test_locked_operator_is_refused_with_the_right_code(operator, clock, settings):
    settings.MFA_LOCK_AFTER = 2
    user, enrolled = operator
    for _ in range(2):
        admin_login(Client(), user.username, "000000" if enrolled.code(clock) != "000000" else "1")
    client = Client()
    response = admin_login(client, user.username, enrolled.code(clock))
    assert b"Too many wrong codes" in response.content
    assert not signed_in(client)


class TestAdminResetAction:
    def test_resets_and_logs(self, admin_user, alice, clock):
        enrol(alice, clock)
        client = Client()
        client.force_login(admin_user)
        response = client.post(
            "/admin/accounts/user/",
            {"action": "reset_two_factor", "_selected_action": [alice.pk]},
        )
        assert response.status_code == 302
        assert not TOTPDevice.objects.filter(user=alice).exists()
        row = ActivityLog.objects.get(action="mfa_reset")
        assert row.user_id == admin_user.pk and row.entity_id == alice.pk
        assert "alice" in row.description
