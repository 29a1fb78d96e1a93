from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Immunization


@admin.register(Immunization)
class ImmunizationAdmin(PatientOwnedAdmin):
    list_display = (
        "vaccine_name",
        "dose_number",
        "date_administered",
        "next_due_date",
        "route",
        "patient",
    )
    list_filter = ("route",)
    search_fields = ("vaccine_name", "vaccine_trade_name", "lot_number", "patient__last_name")
    date_hierarchy = "date_administered"
