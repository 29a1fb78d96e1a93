"""Record group immunizations (being built)."""

__all__: list = []
