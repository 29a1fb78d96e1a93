"""Routes of this group (filled in by issue 16's work)."""

urlpatterns: list = []
