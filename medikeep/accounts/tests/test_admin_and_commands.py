from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from medikeep.accounts.models import User
from medikeep.accounts.tasks import flush_expired_tokens
from medikeep.accounts.tokens import issue_tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


class TestDjangoAdmin:
    def test_admin_site_carries_the_project_name(self, admin_client):
        response = admin_client.get("/admin/")
        assert response.status_code == 200
        assert b"MediKeep administration" in response.content

    def test_user_changelist_searches_and_filters(self, admin_client, alice, bob):
        response = admin_client.get("/admin/accounts/user/", {"q": "alice", "role__exact": "user"})
        assert response.status_code == 200
        assert b"alice" in response.content and b">bob<" not in response.content

    def test_non_admin_cannot_enter(self, client, alice):
        client.force_login(alice)
        assert client.get("/admin/accounts/user/").status_code == 302

    def test_actions(self, admin_client, admin_user, alice, bob):
        url = "/admin/accounts/user/"
        admin_client.post(url, {"action": "deactivate", "_selected_action": [alice.pk, bob.pk]})
        assert not User.objects.filter(pk__in=[alice.pk, bob.pk], is_active=True).exists()
        admin_client.post(url, {"action": "activate", "_selected_action": [alice.pk]})
        admin_client.post(url, {"action": "force_password_change", "_selected_action": [bob.pk]})
        alice.refresh_from_db()
        bob.refresh_from_db()
        assert alice.is_active and bob.must_change_password

    def test_the_last_admin_is_not_deactivated(self, admin_client, admin_user):
        admin_client.post(
            "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [admin_user.pk]}
        )
        admin_user.refresh_from_db()
        assert admin_user.is_active

    def test_admin_creates_a_user(self, admin_client):
        response = admin_client.post(
            "/admin/accounts/user/add/",
            {
                "username": "NewPerson",
                "email": "new@example.test",
                "role": "user",
                "usable_password": "true",
                "password1": "Quite-safe-pass-1",
                "password2": "Quite-safe-pass-1",
            },
        )
        assert response.status_code == 302, response.content[:2000]
        assert User.objects.get(username="newperson").check_password("Quite-safe-pass-1")


class TestEnsureAdmin:
    def test_generates_a_one_time_admin_once(self):
        out = StringIO()
        call_command("ensure_admin", stdout=out)
        admin = User.objects.get(username="admin")
        assert admin.is_admin and admin.is_superuser and admin.must_change_password
        password = out.getvalue().split("one-time password: ")[1].split()[0]
        assert admin.check_password(password)
        again = StringIO()
        call_command("ensure_admin", stdout=again)
        assert "one-time password" not in again.getvalue()
        assert User.objects.filter(role="admin").count() == 1

    def test_uses_the_environment_when_given(self, monkeypatch):
        monkeypatch.setenv("MEDIKEEP_ADMIN_USERNAME", "Keeper")
        monkeypatch.setenv("MEDIKEEP_ADMIN_PASSWORD", "Chosen-pass-42")
        out = StringIO()
        call_command("ensure_admin", stdout=out)
        admin = User.objects.get(username="keeper")
        assert admin.is_admin and not admin.must_change_password
        assert admin.check_password("Chosen-pass-42")
        assert "one-time" not in out.getvalue()

    def test_leaves_an_existing_admin_alone(self, admin_user):
        call_command("ensure_admin", stdout=StringIO())
        assert list(User.objects.filter(role="admin")) == [admin_user]

    def test_createsuperuser_makes_an_admin(self):
        User.objects.create_superuser("boss", "boss@example.test", "Chosen-pass-42")
        boss = User.objects.get(username="boss")
        assert boss.role == "admin" and boss.is_staff and boss.is_superuser


def test_flush_expired_tokens_removes_only_expired(alice):
    issue_tokens(alice)
    issue_tokens(alice)
    OutstandingToken.objects.filter(pk=OutstandingToken.objects.first().pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert flush_expired_tokens.delay().get() == 1
    assert OutstandingToken.objects.count() == 1
