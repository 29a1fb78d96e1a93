"""The authorization code flow, driven through allauth's provider layer.

allauth's providers know each service's endpoints, scopes and profile format, and its OAuth2
clients build the authorization URL and exchange the code. Its redirect views are not used:
the provider sends the browser to the web app's callback route (SSO_REDIRECT_URI), which POSTs
`code` and `state` here. So the adapters below only change where the callback is, and make
the ID token checks unconditional: allauth skips the signature check of an ID token it got
straight from the token endpoint (allowed by OIDC Core 3.1.3.7) and does not check the nonce;
here the signature (JWKS), issuer, audience, expiry and nonce are always verified."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field

import jwt
import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base import ProviderException
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from allauth.socialaccount.providers.google import views as google_views
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.core.exceptions import PermissionDenied

from medikeep.accounts.sso import errors
from medikeep.accounts.sso.config import GITHUB, GOOGLE, SSOSettings
from medikeep.accounts.sso.state import new_secret, state_consume, state_create

logger = logging.getLogger("medikeep.security")


def current() -> SSOSettings:
    """The SSO settings as they are now (read per request, so tests and reloads see changes)."""
    return SSOSettings(
        enabled=settings.SSO_ENABLED,
        provider_type=settings.SSO_PROVIDER_TYPE,
        client_id=settings.SSO_CLIENT_ID,
        client_secret=settings.SSO_CLIENT_SECRET,
        issuer_url=settings.SSO_ISSUER_URL,
        redirect_uri=settings.SSO_REDIRECT_URI,
        allowed_domains=tuple(d.lower() for d in settings.SSO_ALLOWED_DOMAINS),
        allow_registration=settings.SSO_ALLOW_REGISTRATION,
        sso_only=settings.SSO_ONLY,
        github_url=settings.SSO_GITHUB_URL,
    )


def ready() -> SSOSettings:
    sso = current()
    if not sso.enabled:
        raise errors.SSODisabled()
    problems = sso.problems()
    if problems:
        logger.error("SSO is enabled but misconfigured: %s", " ".join(problems))
        raise errors.SSOMisconfigured()
    return sso


def _check_nonce(claims: dict, expected: str | None) -> None:
    if expected is None:
        return
    if not secrets.compare_digest(str(claims.get("nonce", "")), expected):
        raise errors.SSOTokenInvalid("The ID token was not issued for this sign-in (nonce).")


class _SpaCallback:
    """The redirect URI is the web app's route, the same in the authorization request and in
    the code exchange (the provider compares them)."""

    redirect_uri: str = ""
    nonce: str | None = None

    def get_callback_url(self, request, app):
        return self.redirect_uri

    def _require_id_token(self, response: dict) -> None:
        if not response.get("id_token"):
            raise errors.SSOTokenInvalid("The identity provider sent no ID token.")


class OIDCAdapter(_SpaCallback, OpenIDConnectOAuth2Adapter):
    @property
    def openid_config(self):
        config = super().openid_config
        # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for.
        configured = settings.SSO_ISSUER_URL.rstrip("/")
        if str(config.get("issuer", "")).rstrip("/") != configured:
            logger.error(
                "SSO discovery names issuer %r, SSO_ISSUER_URL is %r",
                config.get("issuer"),
                configured,
            )
            raise errors.SSOMisconfigured()
        return config

    def complete_login(self, request, app, token, **kwargs):
        self._require_id_token(kwargs["response"])
        login = super().complete_login(request, app, token, **kwargs)
        data = login.account.extra_data
        userinfo, claims = data.get("userinfo"), data.get("id_token") or {}
        # OIDC Core 5.3.2: userinfo about another subject must not be used.
        if userinfo and str(userinfo.get("sub")) != str(claims.get("sub")):
            raise errors.SSOTokenInvalid("The userinfo answer is about another subject.")
        return login

    def _decode_id_token(self, app, id_token):
        if _unverified_header(id_token).get("kid"):
            try:
                claims = jwtkit.verify_and_decode(
                    credential=id_token,
                    keys_url=self.openid_config["jwks_uri"],
                    issuer=self.openid_config["issuer"],
                    audience=app.client_id,
                    lookup_kid=jwtkit.lookup_kid_jwk,
                    verify_signature=True,
                )
            except OAuth2Error as exc:
                raise errors.SSOTokenInvalid() from exc
        else:
            claims = _verify_with_only_key(
                id_token, self.openid_config["jwks_uri"], self.openid_config["issuer"], app
            )
        _check_nonce(claims, self.nonce)
        return claims


def _unverified_header(token: str) -> dict:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise errors.SSOTokenInvalid() from exc


def _verify_with_only_key(id_token: str, keys_url: str, issuer: str, app) -> dict:
    """An ID token without a key id (allowed when the JWKS holds one signing key, as some
    providers publish): allauth's check needs a `kid`, so the same checks are made here with
    the single key."""
    with get_adapter().get_requests_session() as session:
        response = session.get(keys_url)
        response.raise_for_status()
        keys = [k for k in response.json().get("keys", []) if k.get("use", "sig") == "sig"]
    if len(keys) != 1:
        raise errors.SSOTokenInvalid("The ID token names no key and the provider has several.")
    algorithm = _unverified_header(id_token).get("alg", "RS256")
    if algorithm not in ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256"):
        raise errors.SSOTokenInvalid("The ID token's signing algorithm is not accepted.")
    try:
        key = jwt.algorithms.get_default_algorithms()[algorithm].from_jwk(json.dumps(keys[0]))
        claims = jwt.decode(
            id_token,
            key=key,
            algorithms=[algorithm],
            issuer=issuer,
            audience=app.client_id,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        jwtkit.verify_jti(claims)
    except (jwt.PyJWTError, OAuth2Error) as exc:
        raise errors.SSOTokenInvalid() from exc
    return claims


class GoogleAdapter(_SpaCallback, GoogleOAuth2Adapter):
    def complete_login(self, request, app, token, **kwargs):
        self._require_id_token(kwargs["response"])
        return super().complete_login(request, app, token, **kwargs)

    def _decode_id_token(self, app, id_token):
        try:
            claims = google_views._verify_and_decode(app, id_token, verify_signature=True)
        except OAuth2Error as exc:
            raise errors.SSOTokenInvalid() from exc
        _check_nonce(claims, self.nonce)
        return claims


class GitHubAdapter(_SpaCallback, GitHubOAuth2Adapter):
    """allauth fixes GitHub's URLs when it is imported; here they follow SSO_GITHUB_URL at
    run time (GitHub Enterprise Server: the web URL, its API under /api/v3)."""

    @property
    def _web_url(self) -> str:
        return (settings.SSO_GITHUB_URL or "https://github.com").rstrip("/")

    @property
    def _api_url(self) -> str:
        return f"{self._web_url}/api/v3" if settings.SSO_GITHUB_URL else "https://api.github.com"

    @property
    def access_token_url(self):
        return f"{self._web_url}/login/oauth/access_token"

    @property
    def authorize_url(self):
        return f"{self._web_url}/login/oauth/authorize"

    @property
    def profile_url(self):
        return f"{self._api_url}/user"

    @property
    def emails_url(self):
        return f"{self._api_url}/user/emails"


def provider_for(request, sso: SSOSettings):
    try:
        return get_adapter(request).get_provider(request, sso.allauth_provider)
    except SocialApp.DoesNotExist as exc:
        logger.error("SSO is enabled but allauth has no app for %r", sso.allauth_provider)
        raise errors.SSOMisconfigured() from exc


def adapter_for(request, sso: SSOSettings, *, nonce: str | None = None):
    if sso.provider_type == GOOGLE:
        adapter = GoogleAdapter(request)
    elif sso.provider_type == GITHUB:
        adapter = GitHubAdapter(request)
    else:
        adapter = OIDCAdapter(request, sso.allauth_provider)
    adapter.redirect_uri = sso.redirect_uri
    adapter.nonce = nonce
    return adapter


def safe_return_url(value: str | None) -> str:
    """Only a path of this site: a full URL here would make the sign-in an open redirect."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return ""
    return value


def initiate(request, *, return_url: str | None) -> tuple[str, str]:
    """Starts a sign-in: returns the provider's authorization URL and the state in it."""
    sso = ready()
    provider = provider_for(request, sso)
    adapter = adapter_for(request, sso)
    pkce = generate_code_challenge()
    challenge = pkce["code_challenge"]
    params = provider.get_auth_params()
    params.update(
        code_challenge=challenge.decode() if isinstance(challenge, bytes) else challenge,
        code_challenge_method="S256",
    )
    nonce = new_secret()
    if sso.provider_type != GITHUB:  # GitHub is OAuth 2 only: no ID token to carry a nonce
        params["nonce"] = nonce
    try:
        # OpenID Connect: both read the discovery document.
        client = adapter.get_client(request, provider.app)
        authorize_url = adapter.authorize_url
    except requests.RequestException as exc:
        logger.warning("SSO provider unreachable at initiate: %s", type(exc).__name__)
        raise errors.SSOProviderUnreachable() from exc
    client.state = state_create(
        provider=sso.provider_type,
        nonce=nonce,
        code_verifier=pkce["code_verifier"],
        return_url=safe_return_url(return_url),
    )
    url = client.get_redirect_url(authorize_url, provider.get_scope(), params)
    return url, client.state


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    provider: str  # allauth's provider id as stored on SocialAccount: google, github, authentik…
    uid: str
    email: str  # the verified (primary) address, or "" when the provider vouches for none
    unverified_email: str
    name: str
    first_name: str
    last_name: str
    username: str
    extra_data: dict = field(default_factory=dict)
    return_url: str = ""

    @property
    def is_github(self) -> bool:
        return self.provider == GITHUB


def _is_true(value) -> bool:
    # Some providers send the claim as a string; "false" must not count as verified.
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _verified_email(login, provider_type: str) -> str:
    """GitHub: the verified primary address of /user/emails (allauth's email list). OpenID
    Connect and Google: the `email` claim when `email_verified` is true (the userinfo answer
    over the ID token's claims)."""
    if provider_type == GITHUB:
        for address in login.email_addresses:
            if address.primary and address.verified and address.email:
                return address.email.strip()
        return ""
    data = login.account.extra_data or {}
    if "id_token" in data or "userinfo" in data:
        claims = {**(data.get("id_token") or {}), **(data.get("userinfo") or {})}
    else:
        claims = data
    email = str(claims.get("email") or "").strip()
    verified = _is_true(claims.get("email_verified")) or _is_true(claims.get("verified_email"))
    return email if email and verified else ""


def complete(request, *, code: str, state: str) -> Identity:
    """Checks the state, exchanges the code (with the PKCE verifier) and verifies the answer."""
    row = state_consume(state)
    sso = ready()
    if row is None or row.provider != sso.provider_type:
        logger.warning("SSO callback with an unknown, used or expired state")
        raise errors.SSOStateInvalid()
    provider = provider_for(request, sso)
    app = provider.app
    adapter = adapter_for(request, sso, nonce=None if sso.provider_type == GITHUB else row.nonce)
    try:
        client = adapter.get_client(request, app)
        token_data = client.get_access_token(code, pkce_code_verifier=row.code_verifier)
    except OAuth2Error as exc:
        logger.warning("SSO code exchange refused by the provider")
        raise errors.SSOExchangeFailed() from exc
    except requests.RequestException as exc:
        logger.warning("SSO provider unreachable at the code exchange: %s", type(exc).__name__)
        raise errors.SSOProviderUnreachable() from exc
    try:
        token = adapter.parse_token(token_data)
        login = adapter.complete_login(request, app, token, response=token_data)
    except errors.SSOTokenInvalid:
        logger.warning("SSO ID token refused for provider %s", sso.provider_type)
        raise
    except OAuth2Error as exc:
        raise errors.SSOTokenInvalid() from exc
    except requests.RequestException as exc:
        raise errors.SSOProviderUnreachable() from exc
    except (ProviderException, PermissionDenied, KeyError, ValueError) as exc:
        logger.warning("SSO provider answer unusable: %r", exc)
        raise errors.SSOExchangeFailed() from exc
    common = provider.extract_common_fields(login.account.extra_data) or {}
    return Identity(
        provider=login.account.provider,
        uid=login.account.uid,
        email=_verified_email(login, sso.provider_type),
        unverified_email=str(common.get("email") or ""),
        name=str(common.get("name") or ""),
        first_name=str(common.get("first_name") or ""),
        last_name=str(common.get("last_name") or ""),
        username=str(common.get("username") or ""),
        extra_data=login.account.extra_data,
        return_url=row.return_url,
    )
