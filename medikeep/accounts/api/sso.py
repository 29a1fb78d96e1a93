"""Single sign-on endpoints. Only the public configuration exists so far; sign-in itself
(initiate, callback, resolve-conflict, test-connection) comes with the SSO work."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from medikeep.accounts.api.serializers import SSOConfigSerializer
from medikeep.accounts.selectors import sso_config
from medikeep.api.views import ApiView


class SSOConfigView(ApiView):
    """Whether SSO is offered, by which provider, and whether new accounts may register."""

    permission_classes = [AllowAny]
    # No authentication at all: a stale cookie on the login page must not turn this into a 401.
    authentication_classes: list = []

    @extend_schema(responses=SSOConfigSerializer, tags=["auth"])
    def get(self, request):
        return Response(SSOConfigSerializer(sso_config()).data)
