"""Admin of record group treatments (being built)."""
