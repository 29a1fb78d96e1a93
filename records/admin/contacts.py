"""Admin of record group contacts (being built)."""
