"""Record group symptoms (being built)."""

__all__: list = []
