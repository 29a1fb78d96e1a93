from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Condition, ConditionMedication


class ConditionMedicationInline(admin.TabularInline):
    model = ConditionMedication
    raw_id_fields = ("medication",)
    extra = 0


@admin.register(Condition)
class ConditionAdmin(PatientOwnedAdmin):
    list_display = ("condition_name", "status", "severity", "icd10_code", "patient")
    list_filter = ("status", "severity")
    search_fields = ("condition_name", "icd10_code", "patient__last_name")
    inlines = [ConditionMedicationInline]
