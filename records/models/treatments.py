"""Record group treatments (being built)."""

__all__: list = []
