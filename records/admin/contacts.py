from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import EmergencyContact, Insurance


@admin.register(Insurance)
class InsuranceAdmin(PatientOwnedAdmin):
    list_display = (
        "company_name",
        "insurance_type",
        "status",
        "is_primary",
        "effective_date",
        "expiration_date",
        "patient",
    )
    list_filter = ("insurance_type", "status", "is_primary")
    # company_name, not the contract's provider_name alias (the reference searched a column
    # that does not exist, so its admin search found nothing).
    search_fields = (
        "company_name",
        "plan_name",
        "member_id",
        "policy_number",
        "patient__last_name",
    )


@admin.register(EmergencyContact)
class EmergencyContactAdmin(PatientOwnedAdmin):
    list_display = ("name", "relationship", "phone_number", "is_primary", "is_active", "patient")
    list_filter = ("relationship", "is_primary", "is_active")
    search_fields = ("name", "phone_number", "email", "patient__last_name")
