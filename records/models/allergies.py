"""Record group allergies (being built)."""

__all__: list = []
