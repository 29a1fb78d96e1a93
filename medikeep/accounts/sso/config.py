"""SSO settings read from the environment, and allauth's SOCIALACCOUNT_PROVIDERS built from them.

Imported by settings.py, so it imports nothing from Django's app registry."""

from __future__ import annotations

from dataclasses import dataclass

GOOGLE = "google"
GITHUB = "github"
# Authentik, Authelia and Keycloak are OpenID Connect providers found by discovery.
OIDC_TYPES = ("oidc", "authentik", "authelia", "keycloak")
PROVIDER_TYPES = (GOOGLE, GITHUB, *OIDC_TYPES)


@dataclass(frozen=True)
class SSOSettings:
    enabled: bool = False
    provider_type: str = ""
    client_id: str = ""
    client_secret: str = ""
    issuer_url: str = ""
    redirect_uri: str = ""
    allowed_domains: tuple[str, ...] = ()
    allow_registration: bool = True
    sso_only: bool = False
    github_url: str = ""

    @property
    def is_oidc(self) -> bool:
        return self.provider_type in OIDC_TYPES

    @property
    def allauth_provider(self) -> str:
        """The allauth provider id that `get_provider` looks up: the provider type for
        Google and GitHub, the sub-provider id (the type itself) for OpenID Connect."""
        return self.provider_type

    def problems(self) -> list[str]:
        """Why this configuration cannot work (empty when it can, or when SSO is off)."""
        if not self.enabled:
            return []
        found = []
        if self.provider_type not in PROVIDER_TYPES:
            found.append(f"SSO_PROVIDER_TYPE must be one of {', '.join(PROVIDER_TYPES)}.")
        if not self.client_id:
            found.append("SSO_CLIENT_ID is not set.")
        if not self.client_secret:
            found.append("SSO_CLIENT_SECRET (or SSO_CLIENT_SECRET_FILE) is not set.")
        if not self.redirect_uri:
            found.append("SSO_REDIRECT_URI is not set (the web app's /auth/sso/callback).")
        if self.is_oidc and not self.issuer_url:
            found.append("SSO_ISSUER_URL is required for OpenID Connect providers.")
        return found


def socialaccount_providers(sso: SSOSettings) -> dict:
    """allauth's provider configuration for the one configured provider (no database
    SocialApp needed). PKCE (S256) is on for every provider."""
    if not sso.enabled or sso.provider_type not in PROVIDER_TYPES:
        return {}
    app = {"client_id": sso.client_id, "secret": sso.client_secret, "key": ""}
    if sso.provider_type == GOOGLE:
        return {
            GOOGLE: {
                "APP": app,
                "SCOPE": ["openid", "profile", "email"],
                "OAUTH_PKCE_ENABLED": True,
            }
        }
    if sso.provider_type == GITHUB:
        config = {
            "APP": app,
            "SCOPE": ["read:user", "user:email"],
            "OAUTH_PKCE_ENABLED": True,
        }
        if sso.github_url:
            config["GITHUB_URL"] = sso.github_url
        return {GITHUB: config}
    return {
        "openid_connect": {
            "APPS": [
                {
                    **app,
                    "provider_id": sso.provider_type,
                    "name": sso.provider_type.capitalize(),
                    "settings": {
                        "server_url": sso.issuer_url.rstrip("/"),
                        "oauth_pkce_enabled": True,
                    },
                }
            ],
            "OAUTH_PKCE_ENABLED": True,
        }
    }
