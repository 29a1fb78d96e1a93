"""Operators' views of patients, shares and photos."""

from django.contrib import admin

from patients.models import Patient, PatientPhoto, PatientShare


class PatientShareInline(admin.TabularInline):
    model = PatientShare
    fk_name = "patient"
    extra = 0
    raw_id_fields = ("grantee", "granted_by")
    fields = ("grantee", "level", "expires_at", "is_active", "granted_by", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "first_name",
        "last_name",
        "birth_date",
        "gender",
        "owner",
        "is_self_record",
        "created_at",
    )
    list_display_links = ("id", "first_name", "last_name")
    list_filter = ("gender", "is_self_record", "blood_type")
    list_select_related = ("owner",)
    search_fields = ("first_name", "last_name", "owner__username", "owner__email")
    search_help_text = "Search by the patient's name or the owner's username or email."
    raw_id_fields = ("owner",)
    autocomplete_fields = ("physician",)  # searched in the practitioner directory
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
    list_per_page = 50
    inlines = [PatientShareInline]


@admin.register(PatientShare)
class PatientShareAdmin(admin.ModelAdmin):
    list_display = ("patient", "grantee", "level", "expires_at", "is_active", "created_at")
    list_filter = ("level", "is_active")
    list_select_related = ("patient", "grantee")
    search_fields = ("patient__first_name", "patient__last_name", "grantee__username")
    raw_id_fields = ("patient", "grantee", "granted_by")
    readonly_fields = ("created_at", "updated_at")
    list_per_page = 50


@admin.register(PatientPhoto)
class PatientPhotoAdmin(admin.ModelAdmin):
    """Metadata only: photos are uploaded through the API (content checks, re-encoding) and
    served only by the access-checked endpoint, so the admin neither adds nor links files."""

    list_display = ("patient", "width", "height", "file_size", "uploaded_by", "uploaded_at")
    list_select_related = ("patient", "uploaded_by")
    search_fields = ("patient__first_name", "patient__last_name", "original_name")
    fields = (
        "patient",
        "stored_name",
        "original_name",
        "mime_type",
        "file_size",
        "width",
        "height",
        "uploaded_by",
        "uploaded_at",
        "updated_at",
    )
    readonly_fields = (
        "patient",
        "stored_name",
        "original_name",
        "mime_type",
        "file_size",
        "width",
        "height",
        "uploaded_by",
        "uploaded_at",
        "updated_at",
    )
    date_hierarchy = "uploaded_at"

    @admin.display(description="stored file")
    def stored_name(self, photo):
        return photo.file.name

    def has_add_permission(self, request):
        return False
