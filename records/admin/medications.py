from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from patients.core.admin_fields import StringListField
from records.models import Medication, MedicationDose
from records.models.medications import normalise_reminder_times


@admin.register(Medication)
class MedicationAdmin(PatientOwnedAdmin):
    list_display = ("medication_name", "dosage", "status", "patient", "reminder_enabled")
    list_filter = ("status", "medication_type", "route", "reminder_enabled")
    search_fields = ("medication_name", "alternative_name", "patient__last_name")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "reminder_times":
            return StringListField(
                normalise=normalise_reminder_times,
                separator=r"[,\s]+",
                label="Reminder times",
                help_text='24-hour "HH:MM" times in the facility timezone, e.g. 08:00, 20:00.',
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(MedicationDose)
class MedicationDoseAdmin(admin.ModelAdmin):
    """The dose log. Not a patient-owned type of its own: a dose hangs off its medication."""

    list_display = ("slot", "medication", "patient", "status", "source", "recorded_by")
    list_select_related = ("medication__patient", "recorded_by")
    list_filter = ("status", "source")
    search_fields = ("medication__medication_name", "medication__patient__last_name", "note")
    search_help_text = "Search by the medication's name, the patient's last name or the note."
    raw_id_fields = ("medication", "recorded_by")
    readonly_fields = ("recorded_at",)
    date_hierarchy = "slot"
    list_per_page = 50

    @admin.display(ordering="medication__patient__last_name")
    def patient(self, dose):
        return dose.medication.patient
