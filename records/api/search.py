"""Routes of this group (filled in by issue 16's work)."""

urlpatterns: list = []


def register(router, nested, register_record) -> None:
    """Not a record resource: its paths are plain views in urlpatterns."""
