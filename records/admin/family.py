"""Admin of record group family (being built)."""
