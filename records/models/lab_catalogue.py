"""Reference group lab_catalogue (being built)."""

__all__: list = []
