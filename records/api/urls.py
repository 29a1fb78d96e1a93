"""Routes of every record group. A group module exposes register(router, nested, register_record)
and optionally `urlpatterns` for paths that are not viewset routes (record links)."""

from importlib import import_module

from medikeep.api.routers import ApiRouter
from patients.core.routing import PatientListRouter, register_record

GROUPS = [
    "medications",
    "gauges",
    "conditions",
    "allergies",
    "immunizations",
    "procedures",
    "encounters",
    "labs",
    "lab_links",
    "vitals",
    "contacts",
    "treatments",
    "symptoms",
    "injuries",
    "family",
    "directory",
    "lab_catalogue",
    "vaccine_catalogue",
    "search",
    "tags",
    "export",
    "reports",
]

router = ApiRouter()
nested = PatientListRouter()
extra_patterns: list = []
for group in GROUPS:
    module = import_module(f"records.api.{group}")
    module.register(router, nested, register_record)
    extra_patterns += getattr(module, "urlpatterns", [])

# Extra patterns first: their fixed words ("bulk", "dropdown") must win over {id} routes.
urlpatterns = extra_patterns + router.urls + nested.urls
