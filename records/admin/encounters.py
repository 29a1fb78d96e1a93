"""Admin of record group encounters (being built)."""
