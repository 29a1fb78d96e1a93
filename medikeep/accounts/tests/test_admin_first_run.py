"""Safe first run: an account that must change its password does that in the Django admin
before anything else, and every way of setting a password ends the forced change."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from medikeep.accounts.models import User
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Brand-new-pass-77"
PASSWORD_CHANGE = "/admin/password_change/"


@pytest.fixture
def first_admin():
    """The admin `manage.py ensure_admin` makes on a fresh install, and its one-time password."""
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().split("one-time password: ")[1].split()[0]
    return User.objects.get(username="admin"), password


@pytest.fixture
def forced_admin(make_user):
    return make_user(username="forced", role="admin", must_change_password=True)


def change_own_password(client, old, new=NEW_PASSWORD):
    return client.post(
        PASSWORD_CHANGE, {"old_password": old, "new_password1": new, "new_password2": new}
    )


class TestAdminGate:
    def test_first_sign_in_lands_on_the_password_change_page(self, client, first_admin):
        admin_user, password = first_admin
        response = client.post(
            "/admin/login/?next=/admin/",
            {"username": "admin", "password": password, "next": "/admin/"},
            follow=True,
        )
        assert response.redirect_chain[-1][0] == PASSWORD_CHANGE
        assert response.status_code == 200
        assert b"must change its password" in response.content
        # The page offers no links into the rest of the admin.
        assert b"/admin/accounts/user/" not in response.content

    @pytest.mark.parametrize(
        "path",
        [
            "/admin/",
            "/admin/accounts/",
            "/admin/accounts/user/",
            "/admin/patients/patient/add/",
            "/admin/adminops/activitylog/",
            "/admin/autocomplete/?app_label=records&model_name=medication&field_name=pharmacy",
        ],
    )
    def test_every_other_page_sends_back(self, client, forced_admin, path):
        client.force_login(forced_admin)
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == PASSWORD_CHANGE

    def test_writes_are_refused_too(self, client, forced_admin, alice):
        client.force_login(forced_admin)
        response = client.post(
            "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [alice.pk]}
        )
        assert response.status_code == 302 and response["Location"] == PASSWORD_CHANGE
        alice.refresh_from_db()
        assert alice.is_active

    def test_changing_the_password_opens_the_admin(self, client, first_admin, announced):
        admin_user, password = first_admin
        client.force_login(admin_user)
        response = change_own_password(client, password)
        assert response.status_code == 302
        admin_user.refresh_from_db()
        assert not admin_user.must_change_password
        assert admin_user.check_password(NEW_PASSWORD)
        assert announced == [(admin_user.pk, "change")]
        # The change keeps the session (Django updates its hash) and the admin opens.
        assert client.get("/admin/accounts/user/").status_code == 200

    def test_the_same_password_again_is_refused(self, client, first_admin):
        admin_user, password = first_admin
        client.force_login(admin_user)
        response = change_own_password(client, password, new=password)
        assert response.status_code == 200  # the form again, with its error
        assert b"must differ from the current one" in response.content
        admin_user.refresh_from_db()
        assert admin_user.must_change_password
        assert client.get("/admin/").status_code == 302

    def test_sign_out_stays_possible(self, client, forced_admin):
        client.force_login(forced_admin)
        assert client.post("/admin/logout/").status_code == 200
        assert "_auth_user_id" not in client.session

    def test_other_admins_are_not_held(self, client, admin_user):
        client.force_login(admin_user)
        assert client.get("/admin/").status_code == 200


@pytest.fixture
def announced():
    """The (user, via) of every password_changed signal sent."""
    from medikeep.accounts.signals import password_changed

    sent = []

    def receiver(sender, *, user, via, **kwargs):
        sent.append((user.pk, via))

    password_changed.connect(receiver, dispatch_uid="test-announced")
    yield sent
    password_changed.disconnect(dispatch_uid="test-announced")


class TestEveryPasswordPathClearsTheFlag:
    def test_the_admins_user_password_form(self, client, admin_user, make_user, announced):
        target = make_user(username="target", must_change_password=True)
        client.force_login(admin_user)
        url = reverse("admin:auth_user_password_change", args=[target.pk])
        response = client.post(
            url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
        )
        assert response.status_code == 302, response.content[:500]
        target.refresh_from_db()
        assert target.check_password(NEW_PASSWORD)
        assert not target.must_change_password
        assert announced == [(target.pk, "admin_reset")]  # the user is told

    def test_manage_py_changepassword(self, make_user, monkeypatch):
        target = make_user(username="target", must_change_password=True)
        monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
        call_command("changepassword", "target", stdout=StringIO())
        target.refresh_from_db()
        assert target.check_password(NEW_PASSWORD)
        assert not target.must_change_password

    def test_the_api_change_password(self, client_for, make_user):
        target = make_user(username="target", must_change_password=True)
        response = client_for(target).post(
            "/api/v1/auth/change-password",
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
            format="json",
        )
        assert response.status_code == 200, response.content
        target.refresh_from_db()
        assert not target.must_change_password

    def test_save_with_update_fields_writes_the_flag(self, make_user):
        target = make_user(username="target", must_change_password=True)
        target = User.objects.get(pk=target.pk)
        target.set_password(NEW_PASSWORD)
        target.save(update_fields=["password"])
        assert not User.objects.get(pk=target.pk).must_change_password

    def test_a_rehash_at_sign_in_does_not_count(self, make_user, settings):
        target = make_user(username="target", must_change_password=True)
        # A stronger hasher first: the next check re-hashes the stored password.
        settings.PASSWORD_HASHERS = [
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            *settings.PASSWORD_HASHERS,
        ]
        target = User.objects.get(pk=target.pk)
        old_hash = target.password
        assert target.check_password(DEFAULT_PASSWORD)
        stored = User.objects.get(pk=target.pk)
        assert stored.password != old_hash  # re-hashed and saved
        assert stored.must_change_password and target.must_change_password

    def test_a_temporary_password_set_with_the_flag_keeps_it(self, make_user):
        target = User.objects.get(pk=make_user(username="target").pk)
        target.set_password("Temporary-pass-31")
        target.must_change_password = True
        target.save()
        assert User.objects.get(pk=target.pk).must_change_password
