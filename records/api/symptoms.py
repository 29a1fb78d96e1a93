"""Record group symptoms (being built)."""

urlpatterns: list = []


def register(router, nested, register_record):
    pass
