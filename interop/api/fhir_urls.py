from django.urls import path

from interop.api.fhir import PatientFhirView

urlpatterns = [
    path("patients/<int:patient_id>/fhir", PatientFhirView.as_view()),
]
