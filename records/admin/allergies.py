from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Allergy


@admin.register(Allergy)
class AllergyAdmin(PatientOwnedAdmin):
    list_display = ("allergen", "severity", "status", "onset_date", "patient")
    list_filter = ("severity", "status")
    search_fields = ("allergen", "reaction", "patient__last_name")
    raw_id_fields = ("patient", "medication")
    list_select_related = ("patient", "medication")
