from django.contrib import admin


class PatientOwnedAdmin(admin.ModelAdmin):
    """Admin base of record types: the patient is picked by id, timestamps are read-only."""

    list_select_related = ("patient",)
    raw_id_fields = ("patient",)
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
    list_per_page = 50
    search_help_text = "Search by the record's name fields or the patient's name."
