"""/admin/maintenance: upkeep of the reference data, for admins only (401 anonymous, 403
others).

- GET  test-library/info   — what the lab-test catalogue holds, and what its data file holds;
- POST test-library/reload — re-reads the data file into the catalogue;
- POST test-library/sync   — re-links lab components to the catalogue (canonical names).

The work is done by records' loader services; these views only check rights and shape the
answers. Included under /api/v1/ by adminops/api/urls.py.
"""

from __future__ import annotations

import logging

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from medikeep.api.exceptions import BusinessRuleError
from medikeep.api.permissions import IsAdmin
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView
from records.loaders import lab_catalogue

logger = logging.getLogger("adminops.maintenance")


# --- serializers ----------------------------------------------------------------------------


class TestLibraryFileSerializer(FastSerializer):
    name = serializers.CharField()
    version = serializers.CharField(allow_null=True)
    checksum = serializers.CharField(allow_null=True, help_text="SHA-256 of the file.")
    test_count = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="Why the file cannot be read.")


class TestLibraryInfoSerializer(FastSerializer):
    version = serializers.CharField(
        allow_null=True, help_text="Version of the file last loaded (null: never loaded)."
    )
    checksum = serializers.CharField(allow_null=True, help_text="SHA-256 of that file.")
    last_loaded_at = serializers.DateTimeField(allow_null=True)
    test_count = serializers.IntegerField(help_text="Active tests in the catalogue.")
    common_count = serializers.IntegerField()
    categories = serializers.DictField(
        child=serializers.IntegerField(), help_text="Active tests per category."
    )
    file = TestLibraryFileSerializer(help_text="The data file now on disk.")
    reload_needed = serializers.BooleanField(
        help_text="The file on disk differs from the one last loaded."
    )


class TestLibraryReloadSerializer(FastSerializer):
    success = serializers.BooleanField()
    version = serializers.CharField()
    test_count = serializers.IntegerField(help_text="Active tests after the reload.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    message = serializers.CharField()


class TestLibrarySyncRequestSerializer(FastSerializer):
    force_all = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Re-evaluate every component; otherwise only those without a canonical name.",
    )


class TestLibrarySyncSerializer(FastSerializer):
    success = serializers.BooleanField()
    components_processed = serializers.IntegerField()
    canonical_names_updated = serializers.IntegerField()
    categories_updated = serializers.IntegerField()
    message = serializers.CharField()


# --- views ----------------------------------------------------------------------------------


class AdminMaintenanceView(ApiView):
    permission_classes = [IsAuthenticated, IsAdmin]


class TestLibraryInfoView(AdminMaintenanceView):
    """Version, checksum and counts of the loaded catalogue, and of the file on disk."""

    @extend_schema(responses=TestLibraryInfoSerializer, tags=["admin-maintenance"])
    def get(self, request):
        return Response(TestLibraryInfoSerializer(lab_catalogue.catalogue_info()).data)


class TestLibraryReloadView(AdminMaintenanceView):
    """Re-reads the data file into the catalogue (idempotent); 400 when the file is invalid."""

    @extend_schema(request=None, responses=TestLibraryReloadSerializer, tags=["admin-maintenance"])
    def post(self, request):
        try:
            result = lab_catalogue.reload_catalogue()
        except lab_catalogue.CatalogueFileError as exc:
            raise BusinessRuleError(f"The test library was not reloaded: {exc}") from exc
        logger.info(
            "Test library %s reloaded by %s: %s created, %s updated",
            result["version"],
            request.user.username,
            result["created"],
            result["updated"],
        )
        return Response(TestLibraryReloadSerializer(result).data)


class TestLibrarySyncView(AdminMaintenanceView):
    """Re-links lab components to the catalogue: canonical names (and missing categories)."""

    @extend_schema(
        request=TestLibrarySyncRequestSerializer,
        responses=TestLibrarySyncSerializer,
        tags=["admin-maintenance"],
    )
    def post(self, request):
        body = TestLibrarySyncRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = lab_catalogue.sync_components(force_all=body.validated_data["force_all"])
        logger.info(
            "Lab components synced with the test library by %s: %s processed, %s renamed",
            request.user.username,
            result["components_processed"],
            result["canonical_names_updated"],
        )
        return Response(TestLibrarySyncSerializer(result).data)


urlpatterns = [
    path(
        "admin/maintenance/test-library/info",
        TestLibraryInfoView.as_view(),
        name="admin-maintenance-test-library-info",
    ),
    path(
        "admin/maintenance/test-library/reload",
        TestLibraryReloadView.as_view(),
        name="admin-maintenance-test-library-reload",
    ),
    path(
        "admin/maintenance/test-library/sync",
        TestLibrarySyncView.as_view(),
        name="admin-maintenance-test-library-sync",
    ),
]
