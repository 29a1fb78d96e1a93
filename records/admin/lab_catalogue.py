"""Admin of reference group lab_catalogue (being built)."""
