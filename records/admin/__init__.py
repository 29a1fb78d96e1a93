"""Admin classes, one module per record group."""

from records.admin import (  # noqa: F401
    allergies,
    conditions,
    contacts,
    directory,
    encounters,
    family,
    gauges,
    immunizations,
    injuries,
    lab_catalogue,
    labs,
    medications,
    procedures,
    reports,
    search,
    symptoms,
    tags,
    treatments,
    vaccine_catalogue,
    vitals,
)
