"""Admin classes, one module per record group."""

from records.admin import conditions, gauges, medications  # noqa: F401
