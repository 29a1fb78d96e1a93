from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import (
    Symptom,
    SymptomCondition,
    SymptomMedication,
    SymptomOccurrence,
    SymptomTreatment,
)


class SymptomOccurrenceInline(admin.TabularInline):
    """The patient of a new occurrence is its symptom's (SymptomOccurrence.save)."""

    model = SymptomOccurrence
    fields = (
        "occurrence_date",
        "severity",
        "pain_scale",
        "duration",
        "duration_minutes",
        "time_of_day",
        "impact_level",
        "resolved_date",
        "resolved_time",
    )
    extra = 0
    show_change_link = True


class SymptomConditionInline(admin.TabularInline):
    model = SymptomCondition
    raw_id_fields = ("condition",)
    extra = 0


class SymptomMedicationInline(admin.TabularInline):
    model = SymptomMedication
    raw_id_fields = ("medication",)
    extra = 0


class SymptomTreatmentInline(admin.TabularInline):
    model = SymptomTreatment
    raw_id_fields = ("treatment",)
    extra = 0


@admin.register(Symptom)
class SymptomAdmin(PatientOwnedAdmin):
    list_display = (
        "symptom_name",
        "category",
        "status",
        "is_chronic",
        "last_occurrence_date",
        "resolved_date",
        "patient",
    )
    list_filter = ("status", "is_chronic")
    search_fields = ("symptom_name", "category", "body_part", "patient__last_name")
    inlines = [
        SymptomOccurrenceInline,
        SymptomConditionInline,
        SymptomMedicationInline,
        SymptomTreatmentInline,
    ]


@admin.register(SymptomOccurrence)
class SymptomOccurrenceAdmin(PatientOwnedAdmin):
    list_display = ("symptom", "occurrence_date", "severity", "pain_scale", "patient")
    list_filter = ("severity", "time_of_day", "impact_level")
    list_select_related = ("patient", "symptom")
    raw_id_fields = ("patient", "symptom")
    date_hierarchy = "occurrence_date"
    search_fields = (
        "symptom__symptom_name",
        "location",
        "notes",
        "resolution_notes",
        "patient__last_name",
    )
