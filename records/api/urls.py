from medikeep.api.routers import ApiRouter
from patients.core.routing import PatientListRouter, register_record
from records.api import views

router = ApiRouter()
nested = PatientListRouter()
register_record(router, nested, "medications", views.MedicationViewSet, "medication")
register_record(router, nested, "gauges", views.GaugeViewSet, "gauge")

urlpatterns = router.urls + nested.urls
