from django.urls import path

from files.api import backend_migration as migration_views
from files.api import backend_settings as backend_settings_views
from files.api import paperless, papra, views

LAB = {"fixed_entity_type": "lab-result"}

urlpatterns = [
    path("entity-files/files/batch-counts", views.BatchCountsView.as_view()),
    path("entity-files/files/<int:file_id>", views.EntityFileView.as_view()),
    path("entity-files/files/<int:file_id>/view", views.EntityFileContentView.as_view()),
    path(
        "entity-files/files/<int:file_id>/download",
        views.EntityFileContentView.as_view(as_attachment=True),
    ),
    path("entity-files/files/<int:file_id>/metadata", views.EntityFileMetadataView.as_view()),
    path(
        "entity-files/<str:entity_type>/<int:entity_id>/files",
        views.EntityFilesView.as_view(),
    ),
    # Papra (files/api/papra.py)
    path("papra/organizations", papra.PapraOrganizationsView.as_view()),
    path("papra/documents/search", papra.PapraSearchView.as_view()),
    path("entity-files/sync/papra", papra.SyncPapraView.as_view()),
    path(
        "entity-files/<str:entity_type>/<int:entity_id>/link-papra",
        papra.LinkPapraView.as_view(),
    ),
    # Document back-end settings and storage stats (files/api/backend_settings.py)
    path("paperless/settings", backend_settings_views.PaperlessSettingsView.as_view()),
    path("paperless/test-connection", backend_settings_views.PaperlessTestConnectionView.as_view()),
    path("paperless/storage-stats", backend_settings_views.StorageStatsView.as_view()),
    path("papra/settings", backend_settings_views.PapraSettingsView.as_view()),
    path("papra/test-connection", backend_settings_views.PapraTestConnectionView.as_view()),
    path("entity-files/processing/update", migration_views.ProcessingUpdateView.as_view()),
    path("paperless/migrate", migration_views.MigrationStartView.as_view()),
    path("papra/migrate", migration_views.MigrationStartView.as_view(default_target="papra")),
    path("paperless/migrate/<int:job_id>", migration_views.MigrationStatusView.as_view()),
    path("paperless/migrate/<int:job_id>/status", migration_views.MigrationStatusView.as_view()),
    path("paperless/migrate/<int:job_id>/cancel", migration_views.MigrationCancelView.as_view()),
    # Paperless-ngx (files/api/paperless.py)
    path("paperless/documents/search", paperless.PaperlessSearchView.as_view()),
    path("paperless/documents", paperless.PaperlessSearchView.as_view()),
    path("paperless/tasks/<str:task_uuid>/status", paperless.PaperlessTaskStatusView.as_view()),
    path(
        "paperless/entity-files/set-background-task",
        paperless.BackgroundTaskView.as_view(),
    ),
    path(
        "paperless/entity-files/update-background-task",
        paperless.BackgroundTaskView.as_view(final=True),
    ),
    path("paperless/cleanup", paperless.PaperlessCleanupView.as_view()),
    path("paperless/upload", paperless.PaperlessUploadView.as_view()),
    path("paperless/sync", paperless.SyncPaperlessView.as_view()),
    path("entity-files/sync/paperless", paperless.SyncPaperlessView.as_view()),
    path(
        "entity-files/<str:entity_type>/<int:entity_id>/link-paperless",
        paperless.LinkPaperlessView.as_view(),
    ),
    # The lab-result paths older clients use: the same views, narrowed to lab results.
    path("lab-results/<int:entity_id>/files", views.EntityFilesView.as_view(**LAB)),
    path("lab-results/<int:entity_id>/files/<int:file_id>", views.EntityFileView.as_view(**LAB)),
    path("lab-result-files/<int:file_id>", views.EntityFileView.as_view(**LAB)),
    path("lab-result-files/<int:file_id>/view", views.EntityFileContentView.as_view(**LAB)),
    path(
        "lab-result-files/<int:file_id>/download",
        views.EntityFileContentView.as_view(as_attachment=True, **LAB),
    ),
]
