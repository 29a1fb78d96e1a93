"""Admin of record group labs (being built)."""
