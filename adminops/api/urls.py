"""Routes under /api/v1/ (declared without a trailing slash; the middleware accepts both)."""

from django.urls import include, path

from adminops.api import views

urlpatterns = [
    path("", include("adminops.api.maintenance")),
    path("", include("adminops.api.dashboard_urls")),
    path("", include("adminops.api.mfa")),
    path("", include("adminops.api.trash")),
    path("", include("adminops.api.models_api")),
    path("", include("adminops.api.bulk")),
    path("", include("adminops.api.backups")),
    path("", include("adminops.api.restore")),
    path("system/health", views.SystemHealthView.as_view(), name="system-health"),
    path("system/version", views.SystemVersionView.as_view(), name="system-version"),
    path("system/log-level", views.LogLevelView.as_view(), name="system-log-level"),
    path(
        "system/log-rotation-config",
        views.LogRotationConfigView.as_view(),
        name="system-log-rotation-config",
    ),
    path("system/releases", views.ReleasesView.as_view(), name="system-releases"),
    path("utils/timezone-info", views.TimezoneInfoView.as_view(), name="utils-timezone-info"),
    path("frontend-logs/log", views.FrontendLogView.as_view(), name="frontend-logs-log"),
    path("frontend-logs/error", views.FrontendErrorView.as_view(), name="frontend-logs-error"),
    path(
        "frontend-logs/user-action",
        views.UserActionView.as_view(),
        name="frontend-logs-user-action",
    ),
    path(
        "frontend-logs/health", views.FrontendLogHealthView.as_view(), name="frontend-logs-health"
    ),
    path(
        "patients/me/recent-activity",
        views.RecentActivityView.as_view(),
        name="patients-me-recent-activity",
    ),
    # The web app's spelling of the same list (web-client-api.md §4), usually with patient_id.
    path(
        "patients/recent-activity",
        views.RecentActivityView.as_view(),
        name="patients-recent-activity",
    ),
]
