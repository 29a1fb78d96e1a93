import jwt
import pytest
from django.conf import settings

from medikeep.accounts.models import SystemSetting, User, UserPreference
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
NEW_USER = {
    "username": "JohnDoe",
    "email": "john@example.com",
    "password": "Secure-Pass-123",
    "first_name": "John",
    "last_name": "Doe",
}


def login(client, username, password=DEFAULT_PASSWORD):
    return client.post(LOGIN, {"username": username, "password": password})


def bearer(client, token):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


class TestRegistrationStatus:
    def test_open_by_default(self, anon):
        body = anon.get("/api/v1/auth/registration-status").json()
        assert body == {"registration_enabled": True, "message": None}

    def test_admin_setting_overrides_env_default(self, anon, settings):
        settings.ALLOW_USER_REGISTRATION = True
        SystemSetting.objects.create(key="allow_user_registration", value=False)
        body = anon.get("/api/v1/auth/registration-status").json()
        assert body["registration_enabled"] is False
        assert body["message"]

    def test_env_default_closed(self, anon, settings):
        settings.ALLOW_USER_REGISTRATION = False
        assert anon.get("/api/v1/auth/registration-status").json()["registration_enabled"] is False


class TestRegister:
    def test_creates_user_with_documented_shape(self, anon):
        response = anon.post(REGISTER, NEW_USER, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["username"] == "johndoe"
        assert body["email"] == "john@example.com"
        assert body["full_name"] == "John Doe"
        assert body["role"] == "user"
        assert "created_at" in body and "password" not in body
        user = User.objects.get(pk=body["id"])
        assert user.check_password(NEW_USER["password"])
        assert UserPreference.objects.filter(user=user).exists()

    def test_full_name_alone_is_split(self, anon):
        data = {**NEW_USER, "first_name": "", "last_name": "", "full_name": "Ada King Lovelace"}
        body = anon.post(REGISTER, data, format="json").json()
        user = User.objects.get(pk=body["id"])
        assert (user.first_name, user.last_name) == ("Ada", "King Lovelace")
        assert body["full_name"] == "Ada King Lovelace"

    def test_role_in_body_is_ignored(self, anon):
        body = anon.post(REGISTER, {**NEW_USER, "role": "admin"}, format="json").json()
        assert body["role"] == "user"
        assert not User.objects.get(pk=body["id"]).is_superuser

    @pytest.mark.parametrize(
        "change",
        [
            {"username": "JOHNDOE", "email": "other@example.com"},
            {"username": "other", "email": "JOHN@example.COM"},
        ],
    )
    def test_duplicates_conflict_case_insensitively(self, anon, change):
        assert anon.post(REGISTER, NEW_USER, format="json").status_code == 201
        response = anon.post(REGISTER, {**NEW_USER, **change}, format="json")
        assert response.status_code == 409
        assert response.json()["error_code"] == "CONF-409"
        assert User.objects.count() == 1

    @pytest.mark.parametrize(
        "password",
        ["short1", "onlyletterslong", "1234567890", "password123", "x" * 120 + "1234567890"],
    )
    def test_weak_password_refused(self, anon, password):
        response = anon.post(REGISTER, {**NEW_USER, "password": password}, format="json")
        assert response.status_code == 422
        assert "password" in response.json()["errors"]
        assert not User.objects.exists()

    @pytest.mark.parametrize(
        "change",
        [{"email": "not-an-email"}, {"username": "a"}, {"username": "bad name!"}, {"email": None}],
    )
    def test_bad_fields_refused_with_field_named(self, anon, change):
        response = anon.post(REGISTER, {**NEW_USER, **change}, format="json")
        assert response.status_code == 422
        body = response.json()
        assert body["status"] == "error" and body["error_code"] == "VAL-422"
        assert set(body["errors"]) == set(change)

    def test_refused_when_registration_disabled(self, anon):
        SystemSetting.objects.create(key="allow_user_registration", value=False)
        response = anon.post(REGISTER, NEW_USER, format="json")
        assert response.status_code == 403
        assert "disabled" in response.json()["error"]
        assert not User.objects.exists()

    def test_malformed_json_is_a_400_not_a_500(self, anon):
        response = anon.generic("POST", REGISTER, '{"username": ', content_type="application/json")
        assert response.status_code == 400
        assert response.json()["status"] == "error"

    def test_non_object_body_is_a_422(self, anon):
        response = anon.post(REGISTER, [1, 2], format="json")
        assert response.status_code == 422


class TestLogin:
    def test_form_login_returns_tokens_and_cookie(self, anon, alice):
        response = login(anon, "alice")
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["session_timeout_minutes"] == 120
        assert body["must_change_password"] is False
        assert body["refresh_token"]
        cookie = response.cookies[settings.AUTH_COOKIE_NAME]
        assert cookie.value == body["access_token"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
        assert int(cookie["max-age"]) == body["expires_in"] == 480 * 60
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == "alice"
        assert str(claims["user_id"]) == str(alice.pk)
        assert claims["role"] == "user"
        assert claims["full_name"] == "Alice Owner"
        alice.refresh_from_db()
        assert alice.last_login is not None

    def test_json_and_case_insensitive_username(self, anon, alice):
        response = anon.post(
            LOGIN, {"username": "ALICE", "password": DEFAULT_PASSWORD}, format="json"
        )
        assert response.status_code == 200

    def test_session_timeout_preference_lengthens_token(self, anon, alice):
        UserPreference.objects.create(user=alice, session_timeout_minutes=1000)
        body = login(anon, "alice").json()
        assert body["session_timeout_minutes"] == 1000
        assert body["expires_in"] == 1000 * 60

    def test_wrong_password_and_unknown_user_look_the_same(self, anon, alice):
        wrong = login(anon, "alice", "Wrong-pass-1")
        unknown = login(anon, "nobody", "Wrong-pass-1")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["error"] == unknown.json()["error"]
        assert settings.AUTH_COOKIE_NAME not in wrong.cookies

    def test_deactivated_account_is_refused(self, anon, alice):
        alice.is_active = False
        alice.save()
        response = login(anon, "alice")
        assert response.status_code == 401
        assert "deactivated" in response.json()["error"]

    def test_missing_password_is_422(self, anon):
        assert anon.post(LOGIN, {"username": "alice"}).status_code == 422


class TestTokens:
    def test_cookie_alone_authenticates(self, anon, alice):
        token = login(anon, "alice").json()["access_token"]
        anon.cookies[settings.AUTH_COOKIE_NAME] = token
        assert anon.get("/api/v1/users/me").json()["username"] == "alice"

    def test_garbage_token_is_401(self, anon):
        bearer(anon, "not.a.token")
        response = anon.get("/api/v1/users/me")
        assert response.status_code == 401
        assert response.json()["error_code"] == "AUTH-401"

    def test_token_dies_when_user_is_deactivated(self, anon, alice):
        bearer(anon, login(anon, "alice").json()["access_token"])
        assert anon.get("/api/v1/users/me").status_code == 200
        User.objects.filter(pk=alice.pk).update(is_active=False)
        assert anon.get("/api/v1/users/me").status_code == 401

    def test_token_dies_when_password_changes(self, anon, alice):
        bearer(anon, login(anon, "alice").json()["access_token"])
        alice.set_password("Another-pass-77")
        alice.save()
        assert anon.get("/api/v1/users/me").status_code == 401

    def test_refresh_issues_a_working_access_token(self, anon, alice):
        refresh = login(anon, "alice").json()["refresh_token"]
        response = anon.post("/api/v1/auth/refresh", {"refresh_token": refresh}, format="json")
        assert response.status_code == 200
        bearer(anon, response.json()["access_token"])
        assert anon.get("/api/v1/users/me").status_code == 200

    def test_refresh_refused_for_garbage_and_after_password_change(self, anon, alice):
        refresh = login(anon, "alice").json()["refresh_token"]
        assert anon.post("/api/v1/auth/refresh", {"refresh": "junk"}).status_code == 401
        alice.set_password("Another-pass-77")
        alice.save()
        assert anon.post("/api/v1/auth/refresh", {"refresh": refresh}).status_code == 401
        assert anon.post("/api/v1/auth/refresh", {}).status_code == 422


class TestLogout:
    def test_logout_ends_the_session_and_its_refresh_token(self, anon, alice):
        tokens = login(anon, "alice").json()
        bearer(anon, tokens["access_token"])
        response = anon.post("/api/v1/auth/logout")
        assert response.status_code == 200
        assert response.json() == {
            "status": "success",
            "data": {},
            "message": "Logged out successfully",
        }
        assert response.cookies[settings.AUTH_COOKIE_NAME].value == ""
        assert anon.get("/api/v1/users/me").status_code == 401
        refreshed = anon.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401

    def test_other_sessions_survive(self, anon, client_for, alice):
        other = client_for(alice)
        bearer(anon, login(anon, "alice").json()["access_token"])
        anon.post("/api/v1/auth/logout")
        assert other.get("/api/v1/users/me").status_code == 200

    def test_logout_without_or_with_stale_token_still_answers(self, anon):
        assert anon.post("/api/v1/auth/logout").status_code == 200
        bearer(anon, "stale")
        assert anon.post("/api/v1/auth/logout").status_code == 200


class TestChangePassword:
    URL = "/api/v1/auth/change-password"

    @pytest.mark.parametrize(
        "names", [("current_password", "new_password"), ("currentPassword", "newPassword")]
    )
    def test_changes_password_in_either_naming(self, alice_api, alice, names):
        current, new = names
        response = alice_api.post(
            self.URL, {current: DEFAULT_PASSWORD, new: "Brand-new-pass-9"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["message"] == "Password changed successfully"
        alice.refresh_from_db()
        assert alice.check_password("Brand-new-pass-9")
        # The old token is void; the one handed back works.
        assert alice_api.get("/api/v1/users/me").status_code == 401
        bearer(alice_api, response.json()["access_token"])
        assert alice_api.get("/api/v1/users/me").status_code == 200

    def test_wrong_current_password_is_401(self, alice_api, alice):
        response = alice_api.post(
            self.URL, {"current_password": "Wrong-pass-1", "new_password": "Brand-new-pass-9"}
        )
        assert response.status_code == 401
        alice.refresh_from_db()
        assert alice.check_password(DEFAULT_PASSWORD)

    @pytest.mark.parametrize("new", [DEFAULT_PASSWORD, "short1", "lettersonlylong"])
    def test_same_or_weak_is_400(self, alice_api, new):
        response = alice_api.post(
            self.URL, {"current_password": DEFAULT_PASSWORD, "new_password": new}
        )
        assert response.status_code == 400
        assert response.json()["error_code"] == "BIZ-400"

    def test_missing_fields_422_and_anonymous_401(self, alice_api, anon):
        assert alice_api.post(self.URL, {"current_password": DEFAULT_PASSWORD}).status_code == 422
        assert anon.post(self.URL, {}).status_code == 401


class TestMustChangePassword:
    def test_only_allowed_endpoints_answer_until_changed(self, client_for, alice):
        alice.must_change_password = True
        alice.save()
        api = client_for(alice)
        assert api.get("/api/v1/users/me").status_code == 200
        blocked = api.get("/api/v1/users/me/preferences")
        assert blocked.status_code == 403
        assert "Password change required" in blocked.json()["error"]
        response = api.post(
            "/api/v1/auth/change-password",
            {"current_password": DEFAULT_PASSWORD, "new_password": "Brand-new-pass-9"},
        )
        assert response.status_code == 200
        assert response.json()["must_change_password"] is False
        bearer(api, response.json()["access_token"])
        assert api.get("/api/v1/users/me/preferences").status_code == 200

    def test_login_reports_the_flag(self, anon, alice):
        alice.must_change_password = True
        alice.save()
        assert login(anon, "alice").json()["must_change_password"] is True
