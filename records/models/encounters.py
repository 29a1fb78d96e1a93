"""Record group encounters (being built)."""

__all__: list = []
