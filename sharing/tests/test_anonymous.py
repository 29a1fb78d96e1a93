"""Every sharing, invitation, family-history and portal endpoint needs a signed-in user,
except the two a portal invitee reaches from the emailed link before having an account."""

import re

import pytest

from sharing.api.urls import urlpatterns

pytestmark = pytest.mark.django_db

PUBLIC = {"portal/invitation", "portal/accept"}


def methods_of(callback) -> list[str]:
    actions = getattr(callback, "actions", None)  # a viewset route maps methods to actions
    if actions:
        return list(actions)
    view = callback.view_class
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]


ROUTES = [
    (re.sub(r"<int:\w+>", "1", str(pattern.pattern)), method)
    for pattern in urlpatterns
    if str(pattern.pattern) not in PUBLIC
    for method in methods_of(pattern.callback)
]


def test_the_routes_are_found():
    assert len(ROUTES) > 30  # a broken enumeration must not pass by testing nothing


@pytest.mark.parametrize(("path", "method"), ROUTES)
def test_anonymous_is_401(anon, patient, path, method):
    response = getattr(anon, method)(f"/api/v1/{path}", {}, format="json")
    assert response.status_code == 401, (method, path, response.status_code)
