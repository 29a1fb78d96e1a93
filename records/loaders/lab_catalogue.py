"""Loader of the lab_catalogue data file (being built)."""


def load(stdout=None) -> dict:
    """Loads the catalogue idempotently; returns counts."""
    return {}
