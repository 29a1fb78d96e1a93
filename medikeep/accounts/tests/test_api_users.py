import pytest

from medikeep.accounts.models import User, UserPreference
from medikeep.accounts.tests.test_web_client import PAPERLESS_PAPRA_DEFAULTS

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
PREFS = "/api/v1/users/me/preferences"


class TestMe:
    def test_profile_shape(self, alice_api, alice):
        body = alice_api.get(ME).json()
        for field in (
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "full_name",
            "role",
            "auth_method",
            "created_at",
        ):
            assert field in body
        assert body["id"] == alice.pk and body["auth_method"] == "local"

    def test_anonymous_gets_401_envelope(self, anon):
        response = anon.get(ME)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error" and body["error_code"] == "AUTH-401" and body["error"]

    def test_update_names_and_email_only(self, alice_api, alice):
        response = alice_api.put(
            ME,
            {
                "first_name": "Alicia",
                "last_name": "Keys",
                "email": "alicia@example.com",
                "role": "admin",
                "is_active": False,
                "unknown": 1,
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["full_name"] == "Alicia Keys" and body["email"] == "alicia@example.com"
        alice.refresh_from_db()
        assert alice.role == "user" and alice.is_active and not alice.is_superuser

    def test_full_name_update_splits(self, alice_api, alice):
        alice_api.put(ME, {"full_name": "Mary Ann Evans"}, format="json")
        alice.refresh_from_db()
        assert (alice.first_name, alice.last_name, alice.full_name) == (
            "Mary",
            "Ann Evans",
            "Mary Ann Evans",
        )

    def test_partial_update_keeps_other_fields(self, alice_api, alice):
        alice_api.put(ME, {"last_name": "Smith"}, format="json")
        alice.refresh_from_db()
        assert (alice.first_name, alice.last_name) == ("Alice", "Smith")

    def test_duplicate_email_or_username_conflicts(self, alice_api, bob):
        assert alice_api.put(ME, {"email": bob.email.upper()}, format="json").status_code == 409
        assert alice_api.put(ME, {"username": "BOB"}, format="json").status_code == 409

    def test_bad_email_is_422(self, alice_api):
        response = alice_api.put(ME, {"email": "nope"}, format="json")
        assert response.status_code == 422 and "email" in response.json()["errors"]


class TestDeleteMe:
    def test_deletes_account_with_summary(self, alice_api, alice, bob):
        response = alice_api.delete(ME)
        assert response.status_code == 200
        body = response.json()
        assert body["message"] == "Account and all associated data deleted successfully"
        assert body["deleted_user_id"] == alice.pk
        assert isinstance(body["deletion_summary"], dict)
        assert not User.objects.filter(pk=alice.pk).exists()
        assert User.objects.filter(pk=bob.pk).exists()

    def test_token_of_deleted_user_stops_working(self, alice_api):
        alice_api.delete(ME)
        assert alice_api.get(ME).status_code == 401

    def test_last_admin_cannot_delete_itself(self, client_for, admin_user):
        response = client_for(admin_user).delete(ME)
        assert response.status_code == 400
        assert "last admin" in response.json()["error"]
        assert User.objects.filter(pk=admin_user.pk).exists()

    def test_admin_may_go_when_another_admin_remains(self, client_for, admin_user):
        from medikeep.accounts.tests.factories import AdminFactory

        AdminFactory()
        assert client_for(admin_user).delete(ME).status_code == 200


class TestPreferences:
    def test_defaults(self, alice_api, alice):
        body = alice_api.get(PREFS).json()
        assert body == {
            "user_id": alice.pk,
            "theme": "light",
            "notifications_enabled": True,
            "language": "en",
            "unit_system": "imperial",
            "date_format": "mdy",
            "timezone": "",
            "session_timeout_minutes": 120,
            "updated_at": body["updated_at"],
            **PAPERLESS_PAPRA_DEFAULTS,
        }

    def test_partial_update_ignores_unknown_keys(self, alice_api, alice):
        response = alice_api.put(
            PREFS,
            {
                "theme": "dark",
                "notifications_enabled": False,
                "timezone": "Europe/Paris",
                "date_format": "dmy_dot",
                "language": "pt-BR",
                "colour": "red",
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        stored = UserPreference.objects.get(user=alice)
        assert (stored.theme, stored.notifications_enabled, stored.timezone) == (
            "dark",
            False,
            "Europe/Paris",
        )
        assert stored.unit_system == "imperial"  # untouched

    @pytest.mark.parametrize(
        "change",
        [
            {"theme": "neon"},
            {"unit_system": "cubits"},
            {"date_format": "yy"},
            {"timezone": "Mars/Olympus"},
            {"language": "english please"},
            {"session_timeout_minutes": 4},
            {"session_timeout_minutes": 1441},
            {"session_timeout_minutes": 10**30},
            {"session_timeout_minutes": "soon"},
            {"notifications_enabled": "maybe"},
        ],
    )
    def test_bad_values_are_422_and_change_nothing(self, alice_api, alice, change):
        response = alice_api.put(PREFS, change, format="json")
        assert response.status_code == 422
        assert set(response.json()["errors"]) == set(change)
        assert alice_api.get(PREFS).json()["theme"] == "light"

    def test_each_user_sees_only_their_own(self, alice_api, client_for, bob):
        alice_api.put(PREFS, {"theme": "dark"}, format="json")
        body = client_for(bob).get(PREFS).json()
        assert body["user_id"] == bob.pk and body["theme"] == "light"

    def test_anonymous_refused(self, anon):
        assert anon.get(PREFS).status_code == 401
        assert anon.put(PREFS, {"theme": "dark"}).status_code == 401
