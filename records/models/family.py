"""Record group family (being built)."""

__all__: list = []
