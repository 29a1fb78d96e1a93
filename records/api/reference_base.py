"""Viewset and permission bases for reference data (see records/reference.py)."""

from __future__ import annotations

from django.db import transaction
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from medikeep.api.exceptions import FieldValidationError
from medikeep.api.views import ModelApiViewSet
from records.reference import may_change_entry


class DirectoryEntryPermission(BasePermission):
    message = "Only the person who added this entry, or an admin, may change it."

    def has_object_permission(self, request, view, obj):
        return request.method in SAFE_METHODS or may_change_entry(request.user, obj)


class CatalogueWritePermission(BasePermission):
    """Catalogues are read by everyone signed in and written only by admins."""

    message = "Only an admin may change this catalogue."

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or getattr(request.user, "is_admin", False)


class DirectoryViewSet(ModelApiViewSet):
    """CRUD for a shared directory: anyone signed in reads and adds; the creator or an admin
    changes and deletes. Writes are atomic; records pointing at a deleted entry keep existing
    (their foreign keys are SET_NULL)."""

    permission_classes = [IsAuthenticated, DirectoryEntryPermission]
    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.save(created_by=self.request.user)

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_destroy(self, instance):
        with transaction.atomic():
            instance.delete()


MAX_QUERY_LENGTH = 200


class CatalogueViewSet(ModelApiViewSet):
    """Read for everyone signed in; writes only for admins. Retired entries (is_active false,
    the model's queryset has .active()) are hidden from users and kept for admins."""

    permission_classes = [IsAuthenticated, CatalogueWritePermission]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []
    throttle_scope: str | None = None  # search and autocomplete actions use "search"

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action in ("list", "retrieve", "update", "partial_update", "destroy") and getattr(
            self.request.user, "is_admin", False
        ):
            return queryset  # admins maintain retired entries too
        return queryset.active()

    def update(self, request, *args, **kwargs):
        # PUT applies the fields sent, as for records: clients send partial bodies.
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    def _text(self, *names: str) -> str:
        for name in names:
            value = self.request.query_params.get(name)
            if value is not None:
                if len(value) > MAX_QUERY_LENGTH:
                    raise FieldValidationError(name, f"At most {MAX_QUERY_LENGTH} characters.")
                return value.strip()
        return ""
