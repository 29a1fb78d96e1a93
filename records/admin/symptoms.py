from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from patients.core.admin_fields import text_list_field
from records.models import (
    Symptom,
    SymptomCondition,
    SymptomMedication,
    SymptomOccurrence,
    SymptomTreatment,
)
from records.models.symptoms import normalise_text_list

# The JSON lists of free texts of symptoms and occurrences, edited one per line.
TEXT_LISTS = ("typical_triggers", "triggers", "relief_methods", "associated_symptoms")


class TextListsMixin:
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in TEXT_LISTS:
            name = db_field.name
            return text_list_field(
                lambda values: normalise_text_list(values, name),
                label=db_field.verbose_name.capitalize(),
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class SymptomOccurrenceInline(TextListsMixin, admin.TabularInline):
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
class SymptomAdmin(TextListsMixin, PatientOwnedAdmin):
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
class SymptomOccurrenceAdmin(TextListsMixin, PatientOwnedAdmin):
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
