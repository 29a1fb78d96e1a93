# ruff: noqa: F811 (pytest fixtures imported from sso_support)
"""Which account an SSO identity reaches: conflicts and their resolution, the remembered
preference, GitHub's password link, the user's links, SSO-only mode and test-connection."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings as django_settings
from django.utils import timezone

from medikeep.accounts.choices import UserAuthMethod
from medikeep.accounts.models import User
from medikeep.accounts.sso.models import SSOPendingLogin, SSOState
from medikeep.accounts.sso.state import digest
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from medikeep.accounts.tests.sso_support import (  # noqa: F401 (fixtures)
    SSO,
    Browser,
    GitHubLikeServer,
    callback,
    configure,
    initiate,
    mock_oidc,
    oidc,
    sign_in_at_provider,
)

pytestmark = pytest.mark.django_db


def conflict_for(client, provider, user, sub="sub-conflict"):
    params = sign_in_at_provider(
        client, provider, sub, email=user.email, email_verified=True, name="Al Ice"
    )
    response = callback(client, params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["conflict"] is True
    return body


class TestConflict:
    def test_answer_has_the_contracts_and_the_web_apps_fields(self, anon, oidc, alice):
        body = conflict_for(anon, oidc, alice)
        assert "access_token" not in body
        assert (
            django_settings.AUTH_COOKIE_NAME not in anon.cookies
            or not anon.cookies[django_settings.AUTH_COOKIE_NAME].value
        )
        assert body["existing_email"] == alice.email and body["sso_provider"] == "authentik"
        assert body["existing_user_info"]["username"] == "alice"
        assert body["existing_user_info"]["auth_method"] == "local"
        assert body["sso_user_info"] == {
            "email": alice.email,
            "name": "Al Ice",
            "provider": "authentik",
        }
        # Stored hashed, never as given.
        assert not SSOPendingLogin.objects.filter(token_hash=body["temp_token"]).exists()
        assert SSOPendingLogin.objects.filter(token_hash=digest(body["temp_token"])).exists()

    def test_link_remembers_preference_and_keeps_password(self, anon, oidc, alice):
        token = conflict_for(anon, oidc, alice)["temp_token"]
        response = anon.post(
            f"{SSO}/resolve-conflict",
            {"temp_token": token, "action": "link", "preference": "auto_link"},
            format="json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["access_token"] and body["is_new_user"] is False
        assert body["user"]["id"] == alice.pk and body["user"]["auth_method"] == "hybrid"
        alice.refresh_from_db()
        assert alice.sso_linking_preference == "auto_link"
        assert SocialAccount.objects.get(user=alice).uid == "sub-conflict"
        # Single use.
        again = anon.post(
            f"{SSO}/resolve-conflict", {"temp_token": token, "action": "link"}, format="json"
        )
        assert again.status_code == 400
        assert again.json()["error_code"] == "SSO_TEMP_TOKEN_INVALID"
        # Either way in: the provider …
        assert (
            callback(
                anon,
                sign_in_at_provider(
                    anon, oidc, "sub-conflict", email=alice.email, email_verified=True
                ),
            ).json()["user"]["id"]
            == alice.pk
        )
        # … or the password.
        login = anon.post("/api/v1/auth/login", {"username": "alice", "password": DEFAULT_PASSWORD})
        assert login.status_code == 200

    def test_create_separate_then_remembered(self, anon, oidc, alice):
        token = conflict_for(anon, oidc, alice, sub="sub-sep-1")["temp_token"]
        response = anon.post(
            f"{SSO}/resolve-conflict",
            {"temp_token": token, "action": "create_separate", "preference": "create_separate"},
            format="json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["is_new_user"] is True and body["user"]["id"] != alice.pk
        separate = User.objects.get(pk=body["user"]["id"])
        # The provider's address stays with alice (emails are unique); the new one has none.
        assert separate.email == "" and separate.auth_method == UserAuthMethod.SSO
        # The next identity with alice's email goes straight to a separate account.
        next_one = callback(
            anon,
            sign_in_at_provider(anon, oidc, "sub-sep-2", email=alice.email, email_verified=True),
        )
        assert next_one.status_code == 200
        assert next_one.json()["is_new_user"] is True
        assert next_one.json()["user"]["id"] not in (alice.pk, separate.pk)

    def test_create_separate_with_an_email_of_its_own(self, anon, oidc, alice, bob):
        token = conflict_for(anon, oidc, alice)["temp_token"]
        taken = anon.post(
            f"{SSO}/resolve-conflict",
            {"temp_token": token, "action": "create_separate", "email": bob.email},
            format="json",
        )
        assert taken.status_code == 409
        token = conflict_for(anon, oidc, alice, sub="sub-own")["temp_token"]
        response = anon.post(
            f"{SSO}/resolve-conflict",
            {"temp_token": token, "action": "create_separate", "email": "mine@example.net"},
            format="json",
        )
        assert response.json()["user"]["email"] == "mine@example.net"

    def test_auto_link_preference_links_without_asking(self, anon, oidc, alice):
        alice.sso_linking_preference = "auto_link"
        alice.save()
        params = sign_in_at_provider(
            anon, oidc, "sub-auto", email=alice.email.upper(), email_verified=True
        )
        body = callback(anon, params).json()
        assert body["user"]["id"] == alice.pk and body["is_new_user"] is False

    def test_bad_input(self, anon, oidc):
        unknown = anon.post(
            f"{SSO}/resolve-conflict", {"temp_token": "nope", "action": "link"}, format="json"
        )
        assert unknown.status_code == 400
        bad_action = anon.post(
            f"{SSO}/resolve-conflict", {"temp_token": "x", "action": "merge"}, format="json"
        )
        assert bad_action.status_code == 422 and "action" in bad_action.json()["errors"]


@pytest.fixture
def github(settings):
    server = GitHubLikeServer()
    configure(
        settings,
        provider_type="github",
        client_id=server.client_id,
        client_secret=server.client_secret,
        SSO_GITHUB_URL=server.url,
    )
    yield server
    server.close()


def github_flow(client):
    return callback(client, Browser().authorize(initiate(client)["authorization_url"]))


class TestGitHub:
    def test_verified_primary_email_signs_up(self, anon, github):
        github.emails = [
            {"email": "old@example.org", "primary": False, "verified": True},
            {"email": "octo@example.org", "primary": True, "verified": True},
        ]
        response = github_flow(anon)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["user"]["email"] == "octo@example.org"
        assert body["user"]["username"] == "octo-cat"
        assert SocialAccount.objects.get(provider="github").uid == "4242"

    def test_unverified_primary_needs_a_password_link(self, anon, github, alice):
        github.emails = [{"email": alice.email, "primary": True, "verified": False}]
        body = github_flow(anon).json()
        assert (
            body["github_manual_link"] is True and body["github_user_info"]["login"] == "octo-cat"
        )
        token = body["temp_token"]
        wrong = anon.post(
            f"{SSO}/resolve-github-link",
            {"temp_token": token, "username": "alice", "password": "wrong-password-1"},
            format="json",
        )
        assert wrong.status_code == 401
        # A typo does not void the token.
        right = anon.post(
            f"{SSO}/resolve-github-link",
            {"temp_token": token, "username": "Alice", "password": DEFAULT_PASSWORD},
            format="json",
        )
        assert right.status_code == 200, right.content
        assert right.json()["user"]["id"] == alice.pk
        assert right.json()["user"]["auth_method"] == "hybrid"
        assert SocialAccount.objects.get(provider="github").user == alice
        replay = anon.post(
            f"{SSO}/resolve-github-link",
            {"temp_token": token, "username": "alice", "password": DEFAULT_PASSWORD},
            format="json",
        )
        assert replay.status_code == 400

    def test_password_guessing_hits_the_account_lockout(self, anon, github, alice, settings):
        settings.LOGIN_LOCK_AFTER = 2
        github.emails = []
        token = github_flow(anon).json()["temp_token"]
        codes = [
            anon.post(
                f"{SSO}/resolve-github-link",
                {"temp_token": token, "username": "alice", "password": f"guess-{n}"},
                format="json",
            ).status_code
            for n in range(4)
        ]
        assert codes == [401, 401, 429, 429]
        locked = anon.post(
            f"{SSO}/resolve-github-link",
            {"temp_token": token, "username": "alice", "password": DEFAULT_PASSWORD},
            format="json",
        )
        assert locked.status_code == 429
        assert not SocialAccount.objects.exists()


class TestLinks:
    def test_list_and_remove(self, client_for, alice, bob):
        mine = SocialAccount.objects.create(
            user=alice,
            provider="authentik",
            uid="a1",
            extra_data={"userinfo": {"email": "a@x.org"}},
        )
        theirs = SocialAccount.objects.create(user=bob, provider="authentik", uid="b1")
        User.objects.filter(pk=alice.pk).update(auth_method=UserAuthMethod.HYBRID)
        api = client_for(alice)
        listed = api.get(f"{SSO}/links").json()
        assert [(link["id"], link["provider"], link["email"]) for link in listed] == [
            (mine.pk, "authentik", "a@x.org")
        ]
        assert api.delete(f"{SSO}/links/{theirs.pk}").status_code == 404
        assert api.delete(f"{SSO}/links/{mine.pk}").status_code == 200
        alice.refresh_from_db()
        assert (
            alice.auth_method == UserAuthMethod.LOCAL
            and SocialAccount.objects.filter(user=bob).exists()
        )

    def test_last_way_in_is_kept(self, client_for, make_user):
        sso_only = make_user(username="ssoonly", auth_method=UserAuthMethod.SSO)
        sso_only.set_unusable_password()
        sso_only.save()
        link = SocialAccount.objects.create(user=sso_only, provider="authentik", uid="s1")
        response = client_for(sso_only).delete(f"{SSO}/links/{link.pk}")
        assert response.status_code == 409
        assert SocialAccount.objects.filter(pk=link.pk).exists()

    def test_anonymous(self, anon):
        assert anon.get(f"{SSO}/links").status_code == 401
        assert anon.delete(f"{SSO}/links/1").status_code == 401


class TestSSOOnly:
    def test_password_sign_in_refused_for_users_not_admins(
        self, anon, oidc, settings, alice, admin_user
    ):
        settings.SSO_ONLY = True
        refused = anon.post(
            "/api/v1/auth/login", {"username": "alice", "password": DEFAULT_PASSWORD}
        )
        assert refused.status_code == 403
        assert refused.json()["error_code"] == "SSO_ONLY"
        admin = anon.post("/api/v1/auth/login", {"username": "root", "password": DEFAULT_PASSWORD})
        assert admin.status_code == 200

    def test_wrong_password_still_401(self, anon, oidc, settings, alice):
        settings.SSO_ONLY = True
        response = anon.post("/api/v1/auth/login", {"username": "alice", "password": "nope-123"})
        assert response.status_code == 401


class TestTestConnection:
    def test_reachable(self, client_for, admin_user, oidc):
        body = client_for(admin_user).post(f"{SSO}/test-connection").json()
        assert body["success"] is True, body
        assert [check["name"] for check in body["checks"]] == ["discovery", "jwks"]
        assert oidc.client_secret not in str(body)

    def test_unreachable(self, client_for, admin_user, settings):
        configure(
            settings,
            provider_type="oidc",
            client_id="c",
            client_secret="s3cret-value",
            issuer_url="http://127.0.0.1:9",
        )
        response = client_for(admin_user).post(f"{SSO}/test-connection")
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is False and body["message"]
        assert "s3cret-value" not in response.content.decode()

    def test_github_api(self, client_for, admin_user, github):
        assert client_for(admin_user).post(f"{SSO}/test-connection").json()["success"] is True

    def test_off(self, client_for, admin_user):
        body = client_for(admin_user).post(f"{SSO}/test-connection").json()
        assert body["success"] is False

    def test_admins_only(self, client_for, alice, anon, oidc):
        assert client_for(alice).post(f"{SSO}/test-connection").status_code == 403
        assert anon.post(f"{SSO}/test-connection").status_code == 401


def test_admin_pages_show_state_without_its_secrets(client, admin_user, oidc, anon):
    initiate(anon)
    SSOPendingLogin.objects.create(
        token_hash="h" * 64,
        kind="conflict",
        provider="authentik",
        uid="u1",
        email="p@example.org",
        expires_at=timezone.now(),
    )
    client.force_login(admin_user)
    states = client.get("/admin/accounts/ssostate/")
    assert states.status_code == 200
    row = SSOState.objects.get()
    assert row.nonce not in states.content.decode()
    state_page = client.get(f"/admin/accounts/ssostate/{row.pk}/change/").content.decode()
    assert row.code_verifier not in state_page and row.nonce not in state_page
    pending = client.get("/admin/accounts/ssopendinglogin/")
    assert pending.status_code == 200 and "p@example.org" in pending.content.decode()
    links = client.get("/admin/socialaccount/socialaccount/")
    assert links.status_code == 200


def test_admin_removing_a_link_is_in_the_activity_log(
    client, admin_user, alice, django_capture_on_commit_callbacks
):
    from adminops.models import ActivityLog

    link = SocialAccount.objects.create(user=alice, provider="authentik", uid="a-1")
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/socialaccount/socialaccount/{link.pk}/delete/", {"post": "yes"}
        )
    assert response.status_code == 302
    assert not SocialAccount.objects.filter(pk=link.pk).exists()
    row = ActivityLog.objects.get(entity_id=link.pk)
    assert row.user == admin_user and row.action == "deleted"
