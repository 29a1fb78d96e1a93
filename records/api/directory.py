"""Reference group directory (being built)."""

urlpatterns: list = []


def register(router, nested, register_record):
    pass
