from django.urls import include, path

# One module per part, each owned by its own area: FHIR, the account archive, emergency links.
urlpatterns = [
    path("", include("interop.api.fhir_urls")),
    path("", include("interop.api.archive_urls")),
    path("", include("interop.api.emergency_urls")),
]
