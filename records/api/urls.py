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
]
# Views that span every record type (they iterate the record registry); urlpatterns only.
CROSS_TYPE_GROUPS = ["search", "tags", "export", "reports"]

router = ApiRouter()
nested = PatientListRouter()
extra_patterns: list = []
for group in GROUPS:
    module = import_module(f"records.api.{group}")
    module.register(router, nested, register_record)
    extra_patterns += getattr(module, "urlpatterns", [])
for group in CROSS_TYPE_GROUPS:
    extra_patterns += import_module(f"records.api.{group}").urlpatterns

# Extra patterns first: their fixed words ("bulk", "dropdown") must win over {id} routes.
urlpatterns = extra_patterns + router.urls + nested.urls
