"""Patient endpoints: /patients/me…, /patient-management… and the patient photo."""

from django.http import JsonResponse


def null_response() -> JsonResponse:
    """A 200 whose body is JSON `null` (DRF would render None as an empty body)."""
    return JsonResponse(None, safe=False)
