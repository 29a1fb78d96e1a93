from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Gauge


@admin.register(Gauge)
class GaugeAdmin(PatientOwnedAdmin):
    list_display = ("gauge_type", "value", "scale_max", "recorded_at", "patient")
    list_filter = ("gauge_type",)
    search_fields = ("gauge_type", "patient__last_name")
    raw_id_fields = ("patient", "medication")
    date_hierarchy = "recorded_at"
