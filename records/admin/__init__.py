"""Admin classes, one module per record group."""

from records.admin import gauges, medications  # noqa: F401
