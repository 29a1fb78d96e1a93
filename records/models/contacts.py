"""Record group contacts (being built)."""

__all__: list = []
