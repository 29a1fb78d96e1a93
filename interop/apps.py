from django.apps import AppConfig


class InteropConfig(AppConfig):
    """Moving records in and out: FHIR R4, the whole-account archive, the emergency summary."""

    name = "interop"
