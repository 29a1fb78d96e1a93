"""ID tokens the mock provider cannot be made to send (wrong audience, expired, foreign key,
wrong issuer), from a small OpenID Connect server on loopback that signs what the test
shapes and serves its key as JWKS; and PKCE checked by that server."""

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from medikeep.accounts.models import User
from medikeep.accounts.tests.sso_support import (
    SSO,
    Browser,
    CraftedOIDCProvider,
    callback,
    configure,
    initiate,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def crafted_server():
    server = CraftedOIDCProvider()
    yield server
    server.close()


@pytest.fixture
def crafted(settings, crafted_server):
    crafted_server.claims = {
        "sub": "crafted-1",
        "email": "crafted@example.org",
        "email_verified": True,
        "name": "Cra Fted",
    }
    crafted_server.overrides = {}
    crafted_server.sign_with = crafted_server.key
    configure(
        settings,
        provider_type="keycloak",
        client_id=crafted_server.client_id,
        client_secret=crafted_server.client_secret,
        issuer_url=crafted_server.issuer,
    )
    return crafted_server


def run_flow(client):
    return callback(client, Browser().authorize(initiate(client)["authorization_url"]))


def test_well_formed_token_signs_in_and_pkce_verifier_matches(anon, crafted):
    failures = crafted.pkce_failures
    response = run_flow(anon)
    assert response.status_code == 200, response.content
    assert response.json()["user"]["email"] == "crafted@example.org"
    assert crafted.pkce_failures == failures


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"aud": "another-client"}, id="wrong-audience"),
        pytest.param({"exp": int(time.time()) - 60, "iat": int(time.time()) - 400}, id="expired"),
        pytest.param({"iss": "https://impostor.example"}, id="wrong-issuer"),
        pytest.param({"nonce": "not-ours"}, id="wrong-nonce"),
    ],
)
def test_refused_id_tokens(anon, crafted, overrides):
    crafted.overrides = overrides
    response = run_flow(anon)
    assert response.status_code == 401, response.content
    assert response.json()["error_code"] == "SSO_TOKEN_INVALID"
    assert not User.objects.filter(email="crafted@example.org").exists()


def test_token_signed_with_a_key_the_provider_does_not_publish(anon, crafted):
    crafted.sign_with = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = run_flow(anon)
    assert response.status_code == 401
    assert response.json()["error_code"] == "SSO_TOKEN_INVALID"


def test_userinfo_about_another_subject_is_refused(anon, crafted, monkeypatch):
    monkeypatch.setattr(crafted, "userinfo", lambda: {**crafted.claims, "sub": "someone-else"})
    assert run_flow(anon).status_code == 401


def test_pkce_verifier_must_match(anon, crafted):
    """The provider refuses a code exchange whose verifier does not fit the challenge."""
    url = initiate(anon)["authorization_url"]
    url = url.replace("code_challenge=", "code_challenge=X")
    failures = crafted.pkce_failures
    response = callback(anon, Browser().authorize(url))
    assert response.status_code == 400
    assert crafted.pkce_failures == failures + 1


def test_discovery_naming_another_issuer_is_a_misconfiguration(anon, crafted, settings):
    settings.SSO_ISSUER_URL = crafted.issuer + "/realms/other"
    response = anon.post(f"{SSO}/initiate")
    assert response.status_code == 503
    assert response.json()["error_code"] == "SSO_MISCONFIGURED"


def test_unreachable_provider(anon, settings):
    configure(
        settings,
        provider_type="oidc",
        client_id="c",
        client_secret="s",
        issuer_url="http://127.0.0.1:9",
    )
    response = anon.post(f"{SSO}/initiate")
    assert response.status_code == 502
    assert response.json()["error_code"] == "SSO_PROVIDER_UNREACHABLE"


@pytest.mark.parametrize("flag", ["false", "False", 0, None])
def test_email_verified_must_really_be_true(anon, crafted, flag):
    crafted.claims = {**crafted.claims, "email_verified": flag}
    response = run_flow(anon)
    assert response.status_code == 403
    assert response.json()["error_code"] == "SSO_EMAIL_UNVERIFIED"


def test_email_verified_as_the_string_true(anon, crafted):
    crafted.claims = {**crafted.claims, "email_verified": "true"}
    assert run_flow(anon).status_code == 200
