"""Record group vitals (being built)."""

__all__: list = []
