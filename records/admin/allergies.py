"""Admin of record group allergies (being built)."""
