"""Auth, SSO configuration, profile and preferences as MediKeep's web app (v0.69.0) calls them:
its exact bodies (web-client-api.md §1.3, §2, §3) and the fields it reads."""

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from medikeep.accounts.models import SystemSetting, User
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from medikeep.accounts.tokens import issue_tokens

pytestmark = pytest.mark.django_db

SSO_CONFIG = "/api/v1/auth/sso/config"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"
PREFS = "/api/v1/users/me/preferences"
CHANGE_PASSWORD = "/api/v1/auth/change-password"

# What UserRegistrationForm sends: full_name built as "First Last" beside the two parts.
APP_REGISTRATION = {
    "username": "janedoe",
    "password": "Secure-Pass-123",
    "email": "jane@example.com",
    "full_name": "Jane Doe",
    "first_name": "Jane",
    "last_name": "Doe",
}

PAPERLESS_PAPRA_DEFAULTS = {
    "paperless_enabled": False,
    "paperless_url": "",
    "paperless_has_token": False,
    "paperless_has_credentials": False,
    "paperless_auto_sync": False,
    "paperless_sync_tags": True,
    "default_storage_backend": "local",
    "papra_enabled": False,
    "papra_url": "",
    "papra_has_token": False,
    "papra_organization_id": None,
}


def claims(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def form_login(client, username, password=DEFAULT_PASSWORD):
    # The app posts an urlencoded form (APIClient's default multipart is not what it sends).
    return client.post(
        LOGIN,
        f"username={username}&password={password}",
        content_type="application/x-www-form-urlencoded",
    )


class TestSSOConfig:
    def test_off_until_sso_exists_with_the_registration_switch(self, anon):
        response = anon.get(SSO_CONFIG)
        assert response.status_code == 200
        assert response.json() == {
            "enabled": False,
            "provider_type": None,
            "registration_enabled": True,
        }

    def test_registration_flag_is_the_admin_switch(self, anon):
        SystemSetting.objects.create(key="allow_user_registration", value=False)
        assert anon.get(SSO_CONFIG).json()["registration_enabled"] is False
        status = anon.get("/api/v1/auth/registration-status").json()
        assert status["registration_enabled"] is False

    def test_stale_cookie_or_token_never_401(self, anon, alice):
        anon.cookies[settings.AUTH_COOKIE_NAME] = "expired.or.garbage"
        assert anon.get(SSO_CONFIG).status_code == 200
        anon.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
        assert anon.get(SSO_CONFIG).status_code == 200
        assert anon.get(f"{SSO_CONFIG}/").status_code == 200


class TestIntegerUserIdClaim:
    def test_login_token_carries_an_integer(self, anon, alice):
        body = form_login(anon, "alice").json()
        user_id = claims(body["access_token"])["user_id"]
        assert user_id == alice.pk and type(user_id) is int
        assert claims(body["access_token"])["sub"] == "alice"

    def test_refresh_token_body_carries_an_integer(self, anon, alice):
        refresh = form_login(anon, "alice").json()["refresh_token"]
        response = anon.post("/api/v1/auth/refresh", {"refresh_token": refresh}, format="json")
        assert type(claims(response.json()["access_token"])["user_id"]) is int

    def test_change_password_token_carries_an_integer(self, alice_api, alice):
        response = alice_api.post(
            CHANGE_PASSWORD,
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": "Brand-new-pass-9"},
            format="json",
        )
        assert response.status_code == 200
        assert claims(response.json()["access_token"])["user_id"] == alice.pk

    def test_every_issued_token_carries_an_integer(self, alice):
        # issue_tokens is what login, refresh, change-password and the portal join use.
        assert type(claims(issue_tokens(alice).access_token)["user_id"]) is int

    def test_earlier_tokens_with_a_string_id_still_authenticate(self, anon, alice):
        session = issue_tokens(alice)
        old = AccessToken.for_user(alice)  # simplejwt's own: the id as a string
        old["sid"] = claims(session.access_token)["sid"]
        assert claims(str(old))["user_id"] == str(alice.pk)
        anon.credentials(HTTP_AUTHORIZATION=f"Bearer {old}")
        response = anon.get(ME)
        assert response.status_code == 200
        assert response.json()["id"] == alice.pk


class TestRegisterAndSignIn:
    def test_app_registration_then_form_login(self, anon):
        response = anon.post("/api/v1/auth/register", APP_REGISTRATION, format="json")
        assert response.status_code in (200, 201), response.content

        login = form_login(anon, "janedoe", APP_REGISTRATION["password"])
        assert login.status_code == 200
        assert login.json()["access_token"]
        assert settings.AUTH_COOKIE_NAME in login.cookies
        me = anon.get(ME).json()  # the cookie alone, as the browser sends it
        assert (me["username"], me["first_name"], me["last_name"], me["full_name"]) == (
            "janedoe",
            "Jane",
            "Doe",
            "Jane Doe",
        )

    def test_duplicate_answers_its_message_in_detail(self, anon, alice):
        response = anon.post(
            "/api/v1/auth/register", {**APP_REGISTRATION, "username": "alice"}, format="json"
        )
        assert response.status_code == 409
        assert response.json()["detail"] == "Username already exists."

    def test_closed_registration_answers_its_message_in_detail(self, anon):
        SystemSetting.objects.create(key="allow_user_registration", value=False)
        response = anon.post("/api/v1/auth/register", APP_REGISTRATION, format="json")
        assert response.status_code == 403
        assert "disabled" in response.json()["detail"]
        assert not User.objects.filter(username="janedoe").exists()

    def test_login_failure_answers_its_message_in_detail(self, anon, alice):
        # The login page shows only `detail`.
        response = form_login(anon, "alice", "Wrong-pass-1")
        assert response.status_code == 401
        assert response.json()["detail"] == "Incorrect username or password."


class TestChangePasswordCamelCase:
    def test_wrong_current_password_is_401_with_a_message(self, alice_api, alice):
        response = alice_api.post(
            CHANGE_PASSWORD,
            {"currentPassword": "Wrong-pass-1", "newPassword": "Brand-new-pass-9"},
            format="json",
        )
        assert response.status_code == 401
        assert response.json()["message"] == "Current password is incorrect."
        alice.refresh_from_db()
        assert alice.check_password(DEFAULT_PASSWORD)


class TestProfile:
    def test_me_has_what_the_app_reads(self, alice_api, alice):
        body = alice_api.get(ME).json()
        assert type(body["id"]) is int and body["id"] == alice.pk
        assert body["role"] == "user"
        assert body["must_change_password"] is False
        assert body["auth_method"] == "local"
        assert (body["first_name"], body["last_name"], body["full_name"]) == (
            "Alice",
            "Owner",
            "Alice Owner",
        )

    def test_only_the_changed_username_lower_cased(self, alice_api, alice):
        response = alice_api.put(ME, {"username": "alicia"}, format="json")
        assert response.status_code == 200, response.content
        alice.refresh_from_db()
        assert (alice.username, alice.email, alice.full_name) == (
            "alicia",
            "alice@example.test",
            "Alice Owner",
        )

    def test_cleared_last_name_is_null(self, alice_api, alice):
        response = alice_api.put(ME, {"last_name": None}, format="json")
        assert response.status_code == 200, response.content
        assert (response.json()["last_name"], response.json()["full_name"]) == ("", "Alice")
        alice.refresh_from_db()
        assert (alice.first_name, alice.last_name) == ("Alice", "")

    def test_both_parts_cleared_stay_cleared(self, alice_api, alice):
        response = alice_api.put(ME, {"first_name": None, "last_name": None}, format="json")
        assert response.status_code == 200, response.content
        alice.refresh_from_db()
        assert (alice.first_name, alice.last_name, alice.full_name) == ("", "", "")

    def test_app_name_change_with_full_name(self, alice_api, alice):
        body = {"first_name": "Alicia", "last_name": "Keys", "full_name": "Alicia Keys"}
        response = alice_api.put(ME, body, format="json")
        assert response.status_code == 200
        assert response.json()["full_name"] == "Alicia Keys"

    @pytest.mark.parametrize("change", [{"email": None}, {"username": None}, {"username": "a b"}])
    def test_email_and_username_cannot_be_cleared(self, alice_api, alice, change):
        response = alice_api.put(ME, change, format="json")
        assert response.status_code == 422
        assert set(response.json()["errors"]) == set(change)


class TestPreferences:
    def test_one_answer_carries_the_apps_and_the_specs_keys(self, alice_api, alice):
        body = alice_api.get(PREFS).json()
        assert body["unit_system"] == "imperial"
        assert body["session_timeout_minutes"] == 120
        assert body["language"] == "en"
        assert body["date_format"] == "mdy"
        assert {key: body[key] for key in PAPERLESS_PAPRA_DEFAULTS} == PAPERLESS_PAPRA_DEFAULTS
        assert body["user_id"] == alice.pk
        assert (body["theme"], body["notifications_enabled"]) == ("light", True)

    @pytest.mark.parametrize(
        "change",
        [
            {"unit_system": "metric"},
            {"session_timeout_minutes": 45},
            {"language": "de"},
            {"date_format": "dmy_dot"},
            {"date_format": "ymd"},
        ],
    )
    def test_put_only_the_changed_general_key(self, alice_api, alice, change):
        response = alice_api.put(PREFS, change, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        ((key, value),) = change.items()
        assert body[key] == value
        assert body["paperless_enabled"] is False
        assert alice_api.get(PREFS).json()[key] == value

    def test_paperless_keys_are_not_writable_here(self, alice_api, alice):
        response = alice_api.put(
            PREFS, {"paperless_enabled": True, "default_storage_backend": "papra"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["paperless_enabled"] is False
        assert response.json()["default_storage_backend"] == "local"
