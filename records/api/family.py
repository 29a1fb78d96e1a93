"""Record group family (being built)."""

urlpatterns: list = []


def register(router, nested, register_record):
    pass
