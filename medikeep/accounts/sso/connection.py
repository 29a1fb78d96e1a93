"""test-connection: can this server reach the provider's published endpoints?

OpenID Connect: the discovery document (naming the configured issuer) and its JWKS with at
least one key. Google: its discovery document and keys. GitHub: its API. Nothing is sent
that carries the client secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import requests
from allauth.socialaccount.adapter import get_adapter

from medikeep.accounts.sso.config import GITHUB, GOOGLE, SSOSettings

logger = logging.getLogger("medikeep.security")

GOOGLE_DISCOVERY = "https://accounts.google.com/.well-known/openid-configuration"


@dataclass
class ConnectionReport:
    success: bool
    message: str
    checks: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"success": self.success, "message": self.message, "checks": self.checks}


def _get_json(session, url: str) -> dict:
    response = session.get(url, headers={"Accept": "application/json"})
    response.raise_for_status()
    return response.json()


def _check_discovery(session, discovery_url: str, issuer: str | None, checks: list) -> None:
    config = _get_json(session, discovery_url)
    checks.append({"name": "discovery", "url": discovery_url, "ok": True})
    if issuer is not None and str(config.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise ValueError(
            f"The discovery document names issuer {config.get('issuer')!r}, "
            f"not {issuer!r} (SSO_ISSUER_URL)."
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not config.get(key):
            raise ValueError(f"The discovery document has no {key}.")
    keys = _get_json(session, config["jwks_uri"]).get("keys") or []
    if not keys:
        raise ValueError("The provider's JWKS holds no keys.")
    checks.append({"name": "jwks", "url": config["jwks_uri"], "ok": True, "keys": len(keys)})


def test_connection(sso: SSOSettings) -> ConnectionReport:
    if not sso.enabled:
        return ConnectionReport(False, "Single sign-on is not enabled (SSO_ENABLED).")
    problems = sso.problems()
    if problems:
        return ConnectionReport(False, " ".join(problems))
    checks: list[dict] = []
    try:
        with get_adapter().get_requests_session() as session:
            if sso.provider_type == GITHUB:
                api = (
                    f"{sso.github_url.rstrip('/')}/api/v3"
                    if sso.github_url
                    else "https://api.github.com"
                )
                session.get(api).raise_for_status()
                checks.append({"name": "api", "url": api, "ok": True})
            elif sso.provider_type == GOOGLE:
                _check_discovery(session, GOOGLE_DISCOVERY, None, checks)
            else:
                discovery = f"{sso.issuer_url.rstrip('/')}/.well-known/openid-configuration"
                _check_discovery(session, discovery, sso.issuer_url, checks)
    except (requests.RequestException, ValueError) as exc:
        # The message names what failed, never the client secret (it is not in any URL).
        reason = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
        logger.warning("SSO test-connection failed: %s", reason)
        return ConnectionReport(False, f"Could not reach the provider: {reason}", checks)
    return ConnectionReport(True, "Successfully connected to provider", checks)
