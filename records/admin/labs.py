from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import (
    LabResult,
    LabResultCondition,
    LabResultMedication,
    LabResultProcedure,
    LabTestComponent,
)


class LabTestComponentInline(admin.TabularInline):
    model = LabTestComponent
    # The patient is the lab result's (set in LabResultAdmin.save_formset).
    fields = (
        "test_name",
        "result_type",
        "value",
        "unit",
        "qualitative_value",
        "ref_range_min",
        "ref_range_max",
        "status",
        "display_order",
    )
    extra = 0
    show_change_link = True


class LabResultConditionInline(admin.TabularInline):
    model = LabResultCondition
    raw_id_fields = ("condition",)
    extra = 0


class LabResultMedicationInline(admin.TabularInline):
    model = LabResultMedication
    raw_id_fields = ("medication",)
    extra = 0


class LabResultProcedureInline(admin.TabularInline):
    model = LabResultProcedure
    raw_id_fields = ("procedure",)
    extra = 0


@admin.register(LabResult)
class LabResultAdmin(PatientOwnedAdmin):
    list_display = ("test_name", "test_code", "status", "labs_result", "completed_date", "patient")
    list_filter = ("status", "labs_result", "test_category", "test_type")
    search_fields = ("test_name", "test_code", "facility", "patient__last_name")
    inlines = [
        LabTestComponentInline,
        LabResultConditionInline,
        LabResultMedicationInline,
        LabResultProcedureInline,
    ]

    def save_formset(self, request, form, formset, change):
        if formset.model is not LabTestComponent:
            return super().save_formset(request, form, formset, change)
        for component in formset.save(commit=False):
            component.patient_id = form.instance.patient_id
            component.save()
        for component in formset.deleted_objects:
            component.delete()
        return None


@admin.register(LabTestComponent)
class LabTestComponentAdmin(PatientOwnedAdmin):
    list_display = ("test_name", "value", "unit", "qualitative_value", "status", "lab_result")
    list_filter = ("status", "category", "result_type")
    list_select_related = ("patient", "lab_result")
    raw_id_fields = ("patient", "lab_result")
    readonly_fields = ("canonical_test_name", "created_at", "updated_at")
    search_fields = ("test_name", "abbreviation", "test_code", "patient__last_name")
