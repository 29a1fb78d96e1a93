"""Permissions shared by every app's endpoints (object-level access is patients/access.py)."""

from rest_framework.permissions import BasePermission


class IsAdmin(BasePermission):
    """Admin-role accounts only (the operators' endpoints)."""

    message = "Admin access required."

    def has_permission(self, request, view):
        return bool(getattr(request.user, "is_admin", False))
