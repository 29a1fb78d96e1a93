from django.urls import path

from patients.api.views import management, me, photo

urlpatterns = [
    path("patients/me", me.PatientMeView.as_view()),
    path("patients/me/dashboard-stats", me.DashboardStatsView.as_view()),
    path("patients/<int:patient_id>/photo", photo.PatientPhotoView.as_view()),
    path("patients/<int:patient_id>/photo/info", photo.PatientPhotoInfoView.as_view()),
    path("patient-management", management.PatientManagementView.as_view()),
    path("patient-management/owned/list", management.OwnedPatientsView.as_view()),
    path("patient-management/self-record", management.SelfRecordView.as_view()),
    path("patient-management/switch", management.SwitchPatientView.as_view()),
    path("patient-management/active/current", management.ActivePatientView.as_view()),
    path("patient-management/stats", management.PatientStatsView.as_view()),
    path("patient-management/<int:patient_id>", management.PatientManagementDetailView.as_view()),
]
