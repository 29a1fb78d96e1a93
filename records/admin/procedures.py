from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Procedure


@admin.register(Procedure)
class ProcedureAdmin(PatientOwnedAdmin):
    list_display = ("procedure_name", "procedure_date", "status", "outcome", "patient")
    list_filter = ("status", "outcome")
    search_fields = ("procedure_name", "procedure_code", "facility", "patient__last_name")
    raw_id_fields = ("patient", "condition")
    list_select_related = ("patient", "condition")
    date_hierarchy = "procedure_date"
