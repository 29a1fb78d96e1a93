from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Encounter, EncounterLabResult


class EncounterLabResultInline(admin.TabularInline):
    model = EncounterLabResult
    raw_id_fields = ("lab_result",)
    extra = 0


@admin.register(Encounter)
class EncounterAdmin(PatientOwnedAdmin):
    list_display = ("reason", "date", "visit_type", "priority", "patient")
    list_filter = ("priority",)
    list_select_related = ("patient", "condition")
    raw_id_fields = ("patient", "condition")
    search_fields = ("reason", "chief_complaint", "diagnosis", "patient__last_name")
    date_hierarchy = "date"
    inlines = [EncounterLabResultInline]
