"""Record group injuries (being built)."""

__all__: list = []
