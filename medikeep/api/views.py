"""Base classes every API view inherits, so cross-cutting rules are enforced in one place."""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.views import APIView

PASSWORD_CHANGE_REQUIRED = "Password change required before accessing this resource."


class ApiViewMixin:
    # Refuses every request of an account that must change its password first. Views that
    # stay reachable in that state (change-password, logout, /users/me) set
    # `allowed_while_password_change_required = True`. (A comment, not a docstring: the
    # schema would show a docstring as the description of every view without its own.)

    allowed_while_password_change_required = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        user = request.user
        if (
            getattr(user, "must_change_password", False)
            and not self.allowed_while_password_change_required
        ):
            raise PermissionDenied(PASSWORD_CHANGE_REQUIRED)


class ApiView(ApiViewMixin, APIView):
    pass


class GenericApiView(ApiViewMixin, GenericAPIView):
    pass


class ApiViewSet(ApiViewMixin, viewsets.GenericViewSet):
    pass


class ModelApiViewSet(ApiViewMixin, viewsets.ModelViewSet):
    pass
