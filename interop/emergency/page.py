"""/emergency/{token}: the printable page an emergency link opens (plain Django, no sign-in).

It shows the same summary as the API's JSON answer, with links to the PDF and the FHIR
document. No scripts; the project's Content-Security-Policy middleware covers it. A dead
link (unknown, expired or revoked) gets one and the same 404 page.
"""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET
from rest_framework.exceptions import NotFound

from interop.emergency import links as service
from interop.emergency.links import PUBLIC_HEADERS, PUBLIC_SCOPE
from interop.emergency.summary import emergency_summary
from medikeep.api.throttles import page_allowed

TEMPLATE = "interop/emergency_page.html"


def _answer(request, context: dict, status: int = 200):
    response = render(request, TEMPLATE, context, status=status)
    for name, value in PUBLIC_HEADERS.items():
        response[name] = value
    return response


@require_GET
def emergency_page(request, token: str):
    """The summary of the link's patient; each opening is logged for the owner."""
    if not page_allowed(request, PUBLIC_SCOPE):
        return _answer(request, {"error": "Too many requests; wait a minute."}, status=429)
    try:
        link = service.link_for_token(token)
    except NotFound:
        return _answer(request, {"error": service.NOT_VALID}, status=404)
    summary = emergency_summary(link.patient)
    service.access_record(link=link, request=request, format=service.AccessFormat.PAGE)
    api = f"/api/v1/emergency/{token}"
    context = {
        "summary": summary,
        "patient": summary.patient,
        "link": link,
        "pdf_url": f"{api}/pdf",
        "fhir_url": f"{api}/fhir",
    }
    return _answer(request, context)
