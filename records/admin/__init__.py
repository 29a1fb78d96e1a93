"""Admin classes, one module per record group."""

from records.admin import (  # noqa: F401
    allergies,
    conditions,
    contacts,
    encounters,
    gauges,
    immunizations,
    labs,
    medications,
    procedures,
    vitals,
)
