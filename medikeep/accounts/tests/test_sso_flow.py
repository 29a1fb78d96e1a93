# ruff: noqa: F811 (pytest fixtures imported from sso_support)
"""SSO sign-in through a real OpenID Connect provider on loopback (oidc-provider-mock): the
full code flow over HTTP, and the refusals."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings as django_settings
from django.utils import timezone

from medikeep.accounts.choices import UserAuthMethod
from medikeep.accounts.models import SystemSetting, User
from medikeep.accounts.sso.models import SSOState
from medikeep.accounts.tests.sso_support import (  # noqa: F401 (mock_oidc, oidc: fixtures)
    REDIRECT_URI,
    SSO,
    Browser,
    callback,
    configure,
    initiate,
    mock_oidc,
    oidc,
    s256,
    sign_in_at_provider,
)
from patients.models import Patient

pytestmark = pytest.mark.django_db


class TestConfig:
    def test_off_by_default(self, anon):
        body = anon.get(f"{SSO}/config").json()
        assert body == {"enabled": False, "provider_type": None, "registration_enabled": True}

    def test_reflects_settings(self, anon, oidc, settings):
        settings.SSO_ALLOW_REGISTRATION = False
        body = anon.get(f"{SSO}/config").json()
        assert body == {
            "enabled": True,
            "provider_type": "authentik",
            "registration_enabled": False,
        }

    def test_secret_never_answered(self, anon, oidc):
        for response in (anon.get(f"{SSO}/config"), anon.post(f"{SSO}/initiate")):
            assert oidc.client_secret not in response.content.decode()


class TestInitiate:
    def test_authorization_url_carries_state_nonce_and_pkce(self, anon, oidc):
        body = initiate(anon, return_url="/patients/me")
        assert body["auth_url"] == body["authorization_url"]
        parts = urlsplit(body["authorization_url"])
        assert f"{parts.scheme}://{parts.netloc}" == oidc.issuer
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["state"] == body["state"]
        assert query["redirect_uri"] == REDIRECT_URI
        assert query["client_id"] == oidc.client_id
        assert set(query["scope"].split()) == {"openid", "profile", "email"}
        assert query["code_challenge_method"] == "S256"
        row = SSOState.objects.get()
        # What is stored is not what travels: the state hashed, the verifier only its hash sent.
        assert body["state"] not in row.state_hash
        assert s256(row.code_verifier) == query["code_challenge"]
        assert query["nonce"] == row.nonce
        assert row.return_url == "/patients/me"

    def test_foreign_return_url_is_dropped(self, anon, oidc):
        initiate(anon, return_url="https://evil.example/phish")
        initiate(anon, return_url="//evil.example/phish")
        assert set(SSOState.objects.values_list("return_url", flat=True)) == {""}

    def test_refused_while_sso_is_off(self, anon):
        response = anon.post(f"{SSO}/initiate")
        assert response.status_code == 400
        assert response.json()["error_code"] == "SSO_DISABLED"

    def test_rate_limited(self, anon, oidc, settings):
        settings.API_RATES = {**settings.API_RATES, "auth": "10/min"}
        codes = [anon.post(f"{SSO}/initiate").status_code for _ in range(11)]
        assert codes[:10] == [200] * 10 and codes[10] == 429

    def test_google_authorization_url(self, anon, settings):
        configure(settings, provider_type="google", client_id="g-id", client_secret="g-secret")
        parts = urlsplit(initiate(anon)["authorization_url"])
        assert parts.netloc == "accounts.google.com"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["code_challenge_method"] == "S256" and query["nonce"]
        assert query["client_id"] == "g-id" and "g-secret" not in parts.query


class TestSignIn:
    def test_new_user_end_to_end(self, anon, oidc):
        params = sign_in_at_provider(
            anon, oidc, "sub-ann", email="ann@example.org", email_verified=True, name="Ann Lee"
        )
        response = callback(anon, params)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["token_type"] == "bearer" and body["access_token"]
        assert response.cookies[django_settings.AUTH_COOKIE_NAME].value == body["access_token"]
        assert body["is_new_user"] is True
        user = User.objects.get(email="ann@example.org")
        assert body["user"] == {
            "id": user.pk,
            "username": "ann",
            "email": "ann@example.org",
            "full_name": "Ann Lee",
            "role": "user",
            "auth_method": "sso",
        }
        assert not user.has_usable_password()
        assert SocialAccount.objects.get(user=user).uid == "sub-ann"
        # Unlike the reference, an SSO account gets its own patient record, as registration.
        assert Patient.objects.filter(owner=user, is_self_record=True).count() == 1
        me = anon.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        assert me.status_code == 200 and me.json()["username"] == "ann"

        again = callback(
            anon,
            sign_in_at_provider(
                anon, oidc, "sub-ann", email="ann@example.org", email_verified=True
            ),
        )
        assert again.status_code == 200
        assert again.json()["is_new_user"] is False and again.json()["user"]["id"] == user.pk

    def test_linked_identity_signs_in_even_after_email_change(self, anon, oidc, alice):
        SocialAccount.objects.create(user=alice, provider="authentik", uid="sub-alice")
        params = sign_in_at_provider(
            anon, oidc, "sub-alice", email="new@elsewhere.org", email_verified=False
        )
        response = callback(anon, params)
        assert response.status_code == 200
        assert response.json()["user"]["id"] == alice.pk

    def test_return_url_comes_back(self, anon, oidc):
        oidc.set_user("sub-ret", email="ret@example.org", email_verified=True)
        url = initiate(anon, return_url="/medications")["authorization_url"]
        response = callback(anon, Browser().authorize(url, sub="sub-ret"))
        assert response.json()["return_url"] == "/medications"


class TestRefusals:
    def test_unknown_state(self, anon, oidc):
        params = sign_in_at_provider(
            anon, oidc, "sub-x", email="x@example.org", email_verified=True
        )
        response = callback(anon, {**params, "state": "forged"})
        assert response.status_code == 400
        assert response.json()["error_code"] == "SSO_STATE_INVALID"

    def test_replayed_state(self, anon, oidc):
        params = sign_in_at_provider(
            anon, oidc, "sub-r", email="r@example.org", email_verified=True
        )
        assert callback(anon, params).status_code == 200
        replay = callback(anon, params)
        assert replay.status_code == 400
        assert replay.json()["error_code"] == "SSO_STATE_INVALID"

    def test_expired_state(self, anon, oidc):
        params = sign_in_at_provider(
            anon, oidc, "sub-e", email="e@example.org", email_verified=True
        )
        SSOState.objects.update(created_at=timezone.now() - timedelta(minutes=11))
        response = callback(anon, params)
        assert response.status_code == 400
        assert not SSOState.objects.exists()  # used up all the same

    def test_wrong_nonce(self, anon, oidc):
        # Someone swaps the nonce of the authorization request: the provider's ID token then
        # carries a nonce this sign-in never issued.
        params = sign_in_at_provider(
            anon,
            oidc,
            "sub-n",
            tamper={"nonce": "attacker-nonce"},
            email="n@example.org",
            email_verified=True,
        )
        response = callback(anon, params)
        assert response.status_code == 401
        assert response.json()["error_code"] == "SSO_TOKEN_INVALID"
        assert not User.objects.filter(email="n@example.org").exists()

    def test_wrong_code(self, anon, oidc):
        params = sign_in_at_provider(
            anon, oidc, "sub-c", email="c@example.org", email_verified=True
        )
        response = callback(anon, {**params, "code": "not-a-code"})
        assert response.status_code == 400
        assert response.json()["error_code"] == "SSO_EXCHANGE_FAILED"

    def test_unverified_email(self, anon, oidc):
        params = sign_in_at_provider(
            anon, oidc, "sub-u", email="u@example.org", email_verified=False
        )
        response = callback(anon, params)
        assert response.status_code == 403
        assert response.json()["error_code"] == "SSO_EMAIL_UNVERIFIED"
        assert not User.objects.filter(email="u@example.org").exists()

    def test_unverified_email_does_not_reach_an_existing_account(self, anon, oidc, alice):
        params = sign_in_at_provider(
            anon, oidc, "sub-impostor", email=alice.email, email_verified=False
        )
        assert callback(anon, params).status_code == 403
        assert not SocialAccount.objects.exists()

    def test_domain_not_allowed(self, anon, oidc, settings):
        settings.SSO_ALLOWED_DOMAINS = ["example.org"]
        params = sign_in_at_provider(anon, oidc, "sub-d", email="d@other.net", email_verified=True)
        response = callback(anon, params)
        assert response.status_code == 403
        assert response.json()["error_code"] == "SSO_DOMAIN_NOT_ALLOWED"
        ok = callback(
            anon,
            sign_in_at_provider(anon, oidc, "sub-d2", email="d@Example.org", email_verified=True),
        )
        assert ok.status_code == 200

    def test_sso_registration_disabled(self, anon, oidc, settings):
        settings.SSO_ALLOW_REGISTRATION = False
        params = sign_in_at_provider(
            anon, oidc, "sub-reg", email="reg@example.org", email_verified=True
        )
        response = callback(anon, params)
        assert response.status_code == 403
        assert response.json()["error_code"] == "REGISTRATION_DISABLED"
        assert response.json()["message"]

    def test_registration_switch_off(self, anon, oidc):
        SystemSetting.objects.create(key="allow_user_registration", value=False)
        params = sign_in_at_provider(
            anon, oidc, "sub-reg2", email="reg2@example.org", email_verified=True
        )
        response = callback(anon, params)
        assert response.status_code == 403
        assert response.json()["error_code"] == "REGISTRATION_DISABLED"

    def test_inactive_user(self, anon, oidc, alice):
        SocialAccount.objects.create(user=alice, provider="authentik", uid="sub-inactive")
        User.objects.filter(pk=alice.pk).update(is_active=False)
        params = sign_in_at_provider(
            anon, oidc, "sub-inactive", email=alice.email, email_verified=True
        )
        response = callback(anon, params)
        assert response.status_code == 401
        assert django_settings.AUTH_COOKIE_NAME not in response.cookies

    def test_bad_body(self, anon, oidc):
        response = anon.post(f"{SSO}/callback", {"code": "x"}, format="json")
        assert response.status_code == 422
        assert "state" in response.json()["errors"]

    def test_foreign_origin(self, anon, oidc):
        params = sign_in_at_provider(
            anon, oidc, "sub-o", email="o@example.org", email_verified=True
        )
        response = anon.post(f"{SSO}/callback", params, HTTP_ORIGIN="https://evil.example")
        assert response.status_code == 403


def test_existing_password_user_keeps_password_sign_in(anon, oidc, alice):
    """A linked account signs in either way."""
    alice.sso_linking_preference = "auto_link"
    alice.save()
    params = sign_in_at_provider(anon, oidc, "sub-al", email=alice.email, email_verified=True)
    response = callback(anon, params)
    assert response.status_code == 200
    assert response.json()["user"]["auth_method"] == UserAuthMethod.HYBRID
    from medikeep.accounts.tests.factories import DEFAULT_PASSWORD

    login = anon.post("/api/v1/auth/login", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
