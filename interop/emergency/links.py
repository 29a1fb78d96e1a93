"""Emergency links: a random token that opens one patient's emergency summary without an
account, until it expires or is revoked.

The token is shown once, when the link is made; only its SHA-256 is kept. A lookup hashes
what was presented and finds the row by that hash through the unique index, so the time it
takes says nothing about how close a guess was, and the database never holds anything that
opens a summary. Unknown, expired and revoked tokens all get the same answer (NotFound), so
a holder of a dead link learns nothing about which it is. A link also dies when its maker no
longer holds FULL on the patient (maker_may_share).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from ipaddress import ip_address

from django.db.models import Count, Max, QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from interop.models import EmergencyLink, EmergencyLinkAccess
from medikeep.middleware import client_ip
from patients.access import EMERGENCY_LINK_LEVEL, can_access

DEFAULT_HOURS = 72
MAX_HOURS = 720  # 30 days: a link for a trip or a stay, not a standing public copy
TOKEN_BYTES = 32
USER_AGENT_MAX = 255
NOT_VALID = "This emergency link does not exist, has expired or was revoked."
# secrets.token_urlsafe(32) gives 43 characters of this alphabet; anything else is no token.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


# Public answers hold health data reached by a secret in the address: no cache keeps them,
# no Referer carries the address to another site, no search engine lists it.
PUBLIC_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
# Public paths are counted per address with the "system" budget (API_RATE_SYSTEM, 60/min by
# default): reached without an account, like the health checks.
PUBLIC_SCOPE = "system"


class AccessFormat:
    JSON = "json"
    PDF = "pdf"
    FHIR = "fhir"
    PAGE = "page"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_create(
    *, patient_id: int, created_by, expires_at: dt.datetime, label: str = ""
) -> tuple[EmergencyLink, str]:
    """Makes a link; returns it with its token, which is not kept and cannot be shown again.
    The caller has checked that `created_by` may hand out the patient's data (FULL)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = EmergencyLink.objects.create(
        patient_id=patient_id,
        created_by=created_by,
        token_hash=token_hash(token),
        label=label,
        expires_at=expires_at,
    )
    return link, token


def links_of(patient_id: int) -> QuerySet:
    """The patient's links, newest first, with how often and when they were last opened."""
    return (
        EmergencyLink.objects.filter(patient_id=patient_id)
        .annotate(access_count=Count("accesses"), last_accessed_at=Max("accesses__accessed_at"))
        .order_by("-created_at", "-id")
    )


def link_of(patient_id: int, link_id) -> EmergencyLink:
    """One link of the patient (with its counts); NotFound for any other id."""
    try:
        return links_of(patient_id).get(pk=int(link_id))
    except (TypeError, ValueError, EmergencyLink.DoesNotExist) as exc:
        raise NotFound("Emergency link not found.") from exc


class LinkStatus:
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    # Whoever made it no longer holds FULL on the patient (their share ended or was lowered,
    # or their account is gone).
    MAKER_LOST_ACCESS = "maker_lost_access"


def maker_may_share(link: EmergencyLink, makers: dict[int, bool] | None = None) -> bool:
    """A link works only while whoever made it may still hand the patient's data out (FULL,
    patients/access.py): ending a FULL holder's share also ends the links they made, instead
    of leaving the data open to their links for up to 30 days. `makers` memoises the answer
    per user id across the links of one request."""
    if link.created_by_id is None:
        return False
    if makers is not None and link.created_by_id in makers:
        return makers[link.created_by_id]
    allowed = can_access(link.created_by, link.patient_id, EMERGENCY_LINK_LEVEL)
    if makers is not None:
        makers[link.created_by_id] = allowed
    return allowed


def link_status(link: EmergencyLink, makers: dict[int, bool] | None = None) -> str:
    if link.revoked_at is not None:
        return LinkStatus.REVOKED
    if link.expires_at <= timezone.now():
        return LinkStatus.EXPIRED
    if not maker_may_share(link, makers):
        return LinkStatus.MAKER_LOST_ACCESS
    return LinkStatus.ACTIVE


def is_active(link: EmergencyLink, makers: dict[int, bool] | None = None) -> bool:
    return link_status(link, makers) == LinkStatus.ACTIVE


def link_revoke(*, link: EmergencyLink) -> EmergencyLink:
    """Ends the link at once. Revoking a revoked link keeps the first revocation time."""
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        # Only if still unrevoked: two revocations at once keep the first moment.
        EmergencyLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
            revoked_at=link.revoked_at
        )
        link.refresh_from_db(fields=["revoked_at"])
    return link


def link_for_token(token: str) -> EmergencyLink:
    """The active link of `token`, or NotFound (the same for unknown, expired and revoked)."""
    if not isinstance(token, str) or not _TOKEN_SHAPE.match(token):
        raise NotFound(NOT_VALID)
    digest = token_hash(token)
    link = (
        EmergencyLink.objects.select_related("patient", "created_by")
        .filter(token_hash=digest, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    # The index found the row by the hash; comparing again in constant time keeps the answer
    # independent of how a database might compare strings.
    if link is None or not hmac.compare_digest(link.token_hash, digest):
        raise NotFound(NOT_VALID)
    if not maker_may_share(link):
        raise NotFound(NOT_VALID)
    return link


def access_record(*, link: EmergencyLink, request, format: str) -> EmergencyLinkAccess:
    """Notes one opening of the link (who asked: address and browser; what was read)."""
    user_agent = request.META.get("HTTP_USER_AGENT", "") or ""
    return EmergencyLinkAccess.objects.create(
        link=link,
        ip_address=_address(client_ip(request)),
        user_agent=user_agent[:USER_AGENT_MAX],
        format=format,
    )


def _address(value: str) -> str | None:
    # PostgreSQL's inet column refuses anything but an address (a test client, a socket path).
    try:
        return str(ip_address(value))
    except ValueError:
        return None
