"""Record group labs (being built)."""

__all__: list = []
