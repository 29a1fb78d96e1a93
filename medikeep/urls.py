from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from interop.emergency.page import emergency_page
from medikeep.accounts.pages import password_reset_page
from medikeep.api.exceptions import json_error_view
from sharing.pages import portal_join_page

admin.site.site_header = "MediKeep administration"
admin.site.site_title = "MediKeep admin"
admin.site.index_title = "Records, accounts and operations"

api_v1 = [
    path("", include("medikeep.accounts.api.urls")),
    path("", include("adminops.api.urls")),
    path("", include("patients.api.urls")),
    path("", include("records.api.urls")),
    path("", include("sharing.api.urls")),
    path("", include("files.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("interop.api.urls")),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    # Both pages load only this site's files (drf-spectacular-sidecar, no web fonts), and
    # Swagger UI's start-up script is a file of its own (docs?script), not an inline one, so
    # the pages work offline and under a Content-Security-Policy without 'unsafe-inline'
    # scripts.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="openapi-schema"), name="api-docs"),
    path(
        "redoc",
        SpectacularRedocView.as_view(
            url_name="openapi-schema", template_name="api_docs/redoc.html"
        ),
        name="api-redoc",
    ),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("health", include("adminops.api.root_urls")),
    path("portal/join", portal_join_page, name="portal-join"),
    path("emergency/<str:token>", emergency_page, name="emergency-page"),
    path("password-reset", password_reset_page, name="password-reset"),
]


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error_view(404, "Not found.")(request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_error_view(500, "An unexpected error occurred.")(request)
    from django.views.defaults import server_error

    return server_error(request)
