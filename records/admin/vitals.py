"""Admin of record group vitals (being built)."""
