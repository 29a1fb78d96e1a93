from django.urls import path

from interop.api import emergency as views

# Paths are declared without a trailing slash; the API middleware accepts both.
urlpatterns = [
    path(
        "patients/<int:patient_id>/emergency-summary",
        views.SummaryView.as_view(),
        name="emergency-summary",
    ),
    path(
        "patients/<int:patient_id>/emergency-summary/pdf",
        views.SummaryPdfView.as_view(),
        name="emergency-summary-pdf",
    ),
    path(
        "patients/<int:patient_id>/emergency-summary/fhir",
        views.SummaryFhirView.as_view(),
        name="emergency-summary-fhir",
    ),
    path(
        "patients/<int:patient_id>/emergency-links",
        views.LinkListView.as_view(),
        name="emergency-links",
    ),
    path(
        "patients/<int:patient_id>/emergency-links/<int:link_id>",
        views.LinkDetailView.as_view(),
        name="emergency-link",
    ),
    path(
        "patients/<int:patient_id>/emergency-links/<int:link_id>/revoke",
        views.LinkRevokeView.as_view(),
        name="emergency-link-revoke",
    ),
    path(
        "patients/<int:patient_id>/emergency-links/<int:link_id>/accesses",
        views.LinkAccessesView.as_view(),
        name="emergency-link-accesses",
    ),
    path("emergency/<str:token>", views.PublicSummaryView.as_view(), name="emergency-public"),
    path(
        "emergency/<str:token>/pdf",
        views.PublicSummaryPdfView.as_view(),
        name="emergency-public-pdf",
    ),
    path(
        "emergency/<str:token>/fhir",
        views.PublicSummaryFhirView.as_view(),
        name="emergency-public-fhir",
    ),
]
