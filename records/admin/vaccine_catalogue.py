"""Admin of reference group vaccine_catalogue (being built)."""
