from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import (
    Injury,
    InjuryCondition,
    InjuryMedication,
    InjuryProcedure,
    InjuryTreatment,
    InjuryType,
)


@admin.register(InjuryType)
class InjuryTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "is_system", "created_by", "created_at")
    list_filter = ("is_system",)
    search_fields = ("name", "description")
    list_select_related = ("created_by",)
    readonly_fields = ("created_by", "created_at", "updated_at")
    ordering = ("name",)

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None and not obj.is_system:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        # System types belong to the installation; types in use are protected by the FK.
        if obj is not None and obj.is_system:
            return False
        return super().has_delete_permission(request, obj)


class _LinkInline(admin.TabularInline):
    extra = 0
    fields = ("relevance_note",)


class InjuryMedicationInline(_LinkInline):
    model = InjuryMedication
    raw_id_fields = ("medication",)
    fields = ("medication", "relevance_note")


class InjuryConditionInline(_LinkInline):
    model = InjuryCondition
    raw_id_fields = ("condition",)
    fields = ("condition", "relevance_note")


class InjuryTreatmentInline(_LinkInline):
    model = InjuryTreatment
    raw_id_fields = ("treatment",)
    fields = ("treatment", "relevance_note")


class InjuryProcedureInline(_LinkInline):
    model = InjuryProcedure
    raw_id_fields = ("procedure",)
    fields = ("procedure", "relevance_note")


@admin.register(Injury)
class InjuryAdmin(PatientOwnedAdmin):
    list_display = ("injury_name", "injury_type", "body_part", "status", "severity", "patient")
    list_filter = ("status", "severity", "laterality", "injury_type")
    search_fields = ("injury_name", "body_part", "mechanism", "patient__last_name")
    list_select_related = ("patient", "injury_type")
    raw_id_fields = ("patient",)
    inlines = [
        InjuryMedicationInline,
        InjuryConditionInline,
        InjuryTreatmentInline,
        InjuryProcedureInline,
    ]
