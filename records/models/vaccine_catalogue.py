"""Reference group vaccine_catalogue (being built)."""

__all__: list = []
