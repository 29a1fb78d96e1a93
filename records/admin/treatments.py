from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import (
    MedicalEquipment,
    Treatment,
    TreatmentEncounter,
    TreatmentEquipment,
    TreatmentLabResult,
    TreatmentMedication,
)


class TreatmentMedicationInline(admin.TabularInline):
    model = TreatmentMedication
    raw_id_fields = ("medication",)
    extra = 0


class TreatmentEncounterInline(admin.TabularInline):
    model = TreatmentEncounter
    raw_id_fields = ("encounter",)
    extra = 0


class TreatmentLabResultInline(admin.TabularInline):
    model = TreatmentLabResult
    raw_id_fields = ("lab_result",)
    extra = 0


class TreatmentEquipmentInline(admin.TabularInline):
    model = TreatmentEquipment
    raw_id_fields = ("equipment",)
    extra = 0


@admin.register(Treatment)
class TreatmentAdmin(PatientOwnedAdmin):
    list_display = ("treatment_name", "treatment_type", "status", "mode", "start_date", "patient")
    list_filter = ("status", "mode")
    search_fields = ("treatment_name", "treatment_type", "patient__last_name")
    raw_id_fields = ("patient", "condition")
    list_select_related = ("patient", "condition")
    inlines = [
        TreatmentMedicationInline,
        TreatmentEncounterInline,
        TreatmentLabResultInline,
        TreatmentEquipmentInline,
    ]


@admin.register(MedicalEquipment)
class MedicalEquipmentAdmin(PatientOwnedAdmin):
    list_display = ("equipment_name", "equipment_type", "status", "next_service_date", "patient")
    list_filter = ("status",)
    search_fields = (
        "equipment_name",
        "equipment_type",
        "manufacturer",
        "serial_number",
        "patient__last_name",
    )
