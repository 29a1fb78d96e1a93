"""Admin of record group symptoms (being built)."""
