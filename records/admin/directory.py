"""Admin of reference group directory (being built)."""
