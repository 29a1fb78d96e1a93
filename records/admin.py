from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Gauge, Medication


@admin.register(Medication)
class MedicationAdmin(PatientOwnedAdmin):
    list_display = ("medication_name", "dosage", "status", "patient", "reminder_enabled")
    list_filter = ("status", "medication_type", "route", "reminder_enabled")
    search_fields = ("medication_name", "alternative_name", "patient__last_name")


@admin.register(Gauge)
class GaugeAdmin(PatientOwnedAdmin):
    list_display = ("gauge_type", "value", "scale_max", "recorded_at", "patient")
    list_filter = ("gauge_type",)
    search_fields = ("gauge_type", "patient__last_name")
    raw_id_fields = ("patient", "medication")
    date_hierarchy = "recorded_at"
