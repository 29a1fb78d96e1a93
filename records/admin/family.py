from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import FamilyCondition, FamilyMember


class FamilyConditionInline(admin.TabularInline):
    model = FamilyCondition
    extra = 0
    # The patient is the family member's (set in FamilyMemberAdmin.save_formset).
    fields = ("condition_name", "condition_type", "diagnosis_age", "severity", "status")


@admin.register(FamilyMember)
class FamilyMemberAdmin(PatientOwnedAdmin):
    list_display = ("name", "relationship", "birth_year", "is_deceased", "patient")
    list_filter = ("relationship", "is_deceased")
    search_fields = ("name", "patient__last_name")
    inlines = [FamilyConditionInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is FamilyCondition:
            for inline_form in formset.forms:
                inline_form.instance.patient_id = form.instance.patient_id
        super().save_formset(request, form, formset, change)


@admin.register(FamilyCondition)
class FamilyConditionAdmin(PatientOwnedAdmin):
    list_display = ("condition_name", "family_member", "condition_type", "status", "patient")
    list_filter = ("condition_type", "status", "severity")
    search_fields = ("condition_name", "family_member__name", "patient__last_name")
    list_select_related = ("patient", "family_member")
    raw_id_fields = ("patient", "family_member")
