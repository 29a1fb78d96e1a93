"""Admin classes, one module per record group."""

from records.admin import (  # noqa: F401
    allergies,
    conditions,
    contacts,
    encounters,
    family,
    gauges,
    immunizations,
    injuries,
    labs,
    medications,
    procedures,
    symptoms,
    treatments,
    vitals,
)
