"""Admin of record group injuries (being built)."""
