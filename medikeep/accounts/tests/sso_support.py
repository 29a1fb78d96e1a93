"""Real identity providers on loopback for the SSO tests (no mock objects for the peer).

- `MockOIDCProvider`: oidc-provider-mock's OpenID Connect server (discovery, authorize,
  token, userinfo, JWKS) on a free port; our client is registered with it, so the provider
  checks our client id, secret and redirect URI, and it signs real ID tokens.
- `CraftedOIDCProvider`: a small OpenID Connect server whose ID tokens the test shapes
  (wrong audience, expired, wrong issuer), signed with a key it serves as JWKS; it also
  checks the PKCE verifier against the challenge of the authorization request.
- `GitHubLikeServer`: GitHub's OAuth and /user, /user/emails endpoints, as GitHub Enterprise
  paths (SSO_GITHUB_URL).
- `Browser`: what the user's browser does at the provider: opens the authorization URL,
  submits the consent form, and stops at the redirect to the web app's callback route.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from medikeep.accounts.sso.config import SSOSettings, socialaccount_providers

REDIRECT_URI = "http://app.test/auth/sso/callback"
SSO = "/api/v1/auth/sso"


def callback_params(location: str) -> dict:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI, location
    return {key: values[0] for key, values in parse_qs(parts.query).items()}


class Browser:
    """A browser session at the provider (cookies kept, redirects not followed)."""

    def __init__(self):
        self.session = requests.Session()

    def authorize(self, authorization_url: str, **form) -> dict:
        """Opens the authorization URL; when the provider shows a form, submits `form` to it;
        returns the query of the redirect to the web app's callback route."""
        page = self.session.get(authorization_url, allow_redirects=False, timeout=10)
        if page.status_code in (301, 302, 303):
            return callback_params(page.headers["Location"])
        assert page.status_code == 200, page.text[:500]
        assert "<form" in page.text
        sent = self.session.post(authorization_url, data=form, allow_redirects=False, timeout=10)
        assert sent.status_code in (302, 303), sent.text[:500]
        return callback_params(sent.headers["Location"])


class MockOIDCProvider:
    def __init__(self):
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback
        from oidc_provider_mock import run_server_in_thread

        self._context = run_server_in_thread(require_client_registration=True, require_nonce=True)
        server = self._context.__enter__()
        self.issuer = f"http://localhost:{server.server_port}"
        registered = requests.post(
            f"{self.issuer}/oauth2/clients",
            json={
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": "client_secret_post",
            },
            timeout=10,
        )
        registered.raise_for_status()
        self.client_id = registered.json()["client_id"]
        self.client_secret = registered.json()["client_secret"]

    def set_user(self, sub: str, **claims) -> None:
        requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10).raise_for_status()

    def close(self) -> None:
        self._context.__exit__(None, None, None)


class _LoopbackServer:
    """A ThreadingHTTPServer on a free loopback port running `handler_class`."""

    def __init__(self, handler_class):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.server.owner = self
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    @property
    def owner(self):
        return self.server.owner

    def _json(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _form(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        return {key: values[0] for key, values in parse_qs(raw).items()}

    def _query(self) -> dict:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _CraftedHandler(_Handler):
    def do_GET(self):
        owner, path = self.owner, urlsplit(self.path).path
        if path == "/.well-known/openid-configuration":
            return self._json(
                {
                    "issuer": owner.url,
                    "authorization_endpoint": f"{owner.url}/authorize",
                    "token_endpoint": f"{owner.url}/token",
                    "userinfo_endpoint": f"{owner.url}/userinfo",
                    "jwks_uri": f"{owner.url}/jwks",
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                }
            )
        if path == "/jwks":
            return self._json({"keys": [owner.public_jwk]})
        if path == "/authorize":
            query = self._query()
            code = secrets.token_urlsafe(16)
            owner.codes[code] = query
            return self._redirect(
                f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            )
        if path == "/userinfo":
            return self._json(owner.userinfo())
        return self._json({"error": "not_found"}, 404)

    def do_POST(self):
        owner = self.owner
        form = self._form()
        request = owner.codes.pop(form.get("code"), None)
        if request is None or form.get("client_secret") != owner.client_secret:
            return self._json({"error": "invalid_grant"}, 400)
        if s256(form.get("code_verifier", "")) != request.get("code_challenge"):
            owner.pkce_failures += 1
            return self._json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        id_token = owner.id_token(request)
        return self._json(
            {
                "access_token": "at-" + secrets.token_hex(8),
                "token_type": "Bearer",
                "id_token": id_token,
            }
        )


class CraftedOIDCProvider(_LoopbackServer):
    client_id = "medikeep-crafted"
    client_secret = "crafted-secret-" + "x" * 8

    def __init__(self):
        super().__init__(_CraftedHandler)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_jwk = {
            **json.loads(RSAAlgorithm.to_jwk(self.key.public_key())),
            "kid": "k1",
            "alg": "RS256",
            "use": "sig",
        }
        self.codes: dict = {}
        self.pkce_failures = 0
        self.claims: dict = {}
        self.overrides: dict = {}
        self.sign_with = self.key

    @property
    def issuer(self) -> str:
        return self.url

    def userinfo(self) -> dict:
        return {k: v for k, v in self.claims.items()}

    def id_token(self, request: dict) -> str:
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": request.get("nonce"),
            **self.claims,
            **self.overrides,
        }
        return jwt.encode(payload, self.sign_with, algorithm="RS256", headers={"kid": "k1"})


class _GitHubHandler(_Handler):
    def do_GET(self):
        owner, path = self.owner, urlsplit(self.path).path
        if path == "/login/oauth/authorize":
            query = self._query()
            code = secrets.token_urlsafe(16)
            owner.codes[code] = query
            return self._redirect(
                f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            )
        if path == "/api/v3":
            return self._json({"current_user_url": f"{owner.url}/api/v3/user"})
        if self.headers.get("Authorization") != f"token {owner.access_token}":
            return self._json({"message": "Bad credentials"}, 401)
        if path == "/api/v3/user":
            return self._json(owner.user)
        if path == "/api/v3/user/emails":
            return self._json(owner.emails)
        return self._json({"message": "Not Found"}, 404)

    def do_POST(self):
        owner = self.owner
        form = self._form()
        request = owner.codes.pop(form.get("code"), None)
        if (
            request is None
            or form.get("client_secret") != owner.client_secret
            or s256(form.get("code_verifier", "")) != request.get("code_challenge")
        ):
            return self._json({"error": "bad_verification_code"}, 200)
        return self._json({"access_token": owner.access_token, "token_type": "bearer"})


class GitHubLikeServer(_LoopbackServer):
    client_id = "gh-client"
    client_secret = "gh-secret-" + "y" * 8

    def __init__(self):
        super().__init__(_GitHubHandler)
        self.codes: dict = {}
        self.access_token = secrets.token_hex(12)
        self.user = {"id": 4242, "login": "octo-cat", "name": "Octo Cat", "email": None}
        self.emails: list = []


# --- fixtures and steps shared by the SSO test modules ----------------------------------


@pytest.fixture(scope="session")
def mock_oidc():
    provider = MockOIDCProvider()
    yield provider
    provider.close()


def configure(settings, *, provider_type, client_id, client_secret, issuer_url="", **extra):
    values = {
        "SSO_ENABLED": True,
        "SSO_PROVIDER_TYPE": provider_type,
        "SSO_CLIENT_ID": client_id,
        "SSO_CLIENT_SECRET": client_secret,
        "SSO_ISSUER_URL": issuer_url,
        "SSO_REDIRECT_URI": REDIRECT_URI,
        "SSO_ALLOWED_DOMAINS": [],
        "SSO_ALLOW_REGISTRATION": True,
        "SSO_ONLY": False,
        "SSO_GITHUB_URL": "",
        **extra,
    }
    for name, value in values.items():
        setattr(settings, name, value)
    settings.SOCIALACCOUNT_PROVIDERS = socialaccount_providers(
        SSOSettings(
            enabled=True,
            provider_type=provider_type,
            client_id=client_id,
            client_secret=client_secret,
            issuer_url=issuer_url,
            github_url=values["SSO_GITHUB_URL"],
        )
    )


@pytest.fixture
def oidc(settings, mock_oidc):
    configure(
        settings,
        provider_type="authentik",
        client_id=mock_oidc.client_id,
        client_secret=mock_oidc.client_secret,
        issuer_url=mock_oidc.issuer,
    )
    return mock_oidc


def initiate(client, **query):
    response = client.post(f"{SSO}/initiate" + (f"?{urlencode(query)}" if query else ""))
    assert response.status_code == 200, response.content
    return response.json()


def sign_in_at_provider(client, provider, sub, *, tamper=None, **claims):
    """initiate → the provider's consent form → the redirect to the web app's callback."""
    provider.set_user(sub, **claims)
    url = initiate(client)["authorization_url"]
    if tamper:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query.update(tamper)
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return Browser().authorize(url, sub=sub)


def callback(client, params):
    return client.post(f"{SSO}/callback", {"code": params["code"], "state": params["state"]})
