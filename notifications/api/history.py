"""Filled in by the issue-14 work on this area."""

urlpatterns: list = []
