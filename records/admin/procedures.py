"""Admin of record group procedures (being built)."""
