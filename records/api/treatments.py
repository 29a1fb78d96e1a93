"""Record group treatments (being built)."""

urlpatterns: list = []


def register(router, nested, register_record):
    pass
