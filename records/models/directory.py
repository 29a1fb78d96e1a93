"""Reference group directory (being built)."""

__all__: list = []
