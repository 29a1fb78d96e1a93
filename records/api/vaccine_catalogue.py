"""Reference group vaccine_catalogue (being built)."""

urlpatterns: list = []


def register(router, nested, register_record):
    pass
