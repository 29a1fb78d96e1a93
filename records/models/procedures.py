"""Record group procedures (being built)."""

__all__: list = []
