from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Medication


@admin.register(Medication)
class MedicationAdmin(PatientOwnedAdmin):
    list_display = ("medication_name", "dosage", "status", "patient", "reminder_enabled")
    list_filter = ("status", "medication_type", "route", "reminder_enabled")
    search_fields = ("medication_name", "alternative_name", "patient__last_name")
