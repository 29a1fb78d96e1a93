"""Admin of record group immunizations (being built)."""
