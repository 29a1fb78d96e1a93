"""/admin/user-management/users/{id}/mfa: an admin turns a user's two-factor sign-in off
(a lost authenticator and no recovery codes left). 401 anonymous, 403 for users; each reset
writes an activity-log row naming the admin (adminops/mfa_audit.py).

- DELETE admin/user-management/users/{id}/mfa
- POST   admin/user-management/users/{id}/mfa/reset   (the same, for clients without DELETE)
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from adminops.api.dashboard import AdminView
from medikeep.accounts.mfa import services as mfa_services
from medikeep.accounts.models import User
from medikeep.api.representation import FastSerializer
from medikeep.middleware import client_ip

TAGS = ["admin-user-management"]
MAX_ID = 2**63 - 1


class MFAResetSerializer(FastSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    reset = serializers.BooleanField(
        help_text="False when the user had no two-factor sign-in (nothing was changed)."
    )
    mfa_enabled = serializers.BooleanField()
    message = serializers.CharField()


class UserMFAResetView(AdminView):
    """Removes the user's authenticator, recovery codes and pending sign-in steps; the user
    signs in with the password alone and may enrol again."""

    def _reset(self, request, user_id: int):
        user = User.objects.filter(pk=user_id).first() if user_id <= MAX_ID else None
        if user is None:
            raise Http404("User not found.")
        reset = mfa_services.mfa_reset(user=user, actor=request.user, ip_address=client_ip(request))
        message = (
            f"Two-factor sign-in of '{user.username}' was reset."
            if reset
            else f"'{user.username}' had no two-factor sign-in."
        )
        body = {
            "user_id": user.pk,
            "username": user.username,
            "reset": reset,
            "mfa_enabled": False,
            "message": message,
        }
        return Response(MFAResetSerializer(body).data)

    @extend_schema(
        request=None, responses=MFAResetSerializer, tags=TAGS, summary="Reset two-factor sign-in"
    )
    def delete(self, request, user_id: int):
        return self._reset(request, user_id)

    @extend_schema(
        request=None,
        responses=MFAResetSerializer,
        tags=TAGS,
        summary="Reset two-factor sign-in (POST form)",
    )
    def post(self, request, user_id: int):
        return self._reset(request, user_id)


urlpatterns = [
    path(
        "admin/user-management/users/<int:user_id>/mfa",
        UserMFAResetView.as_view(http_method_names=["delete", "options"]),
        name="admin-user-management-mfa",
    ),
    path(
        "admin/user-management/users/<int:user_id>/mfa/reset",
        UserMFAResetView.as_view(http_method_names=["post", "options"]),
        name="admin-user-management-mfa-reset",
    ),
]
