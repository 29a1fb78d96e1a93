"""Admin of the vaccine catalogue (StandardizedVaccine)."""

from django.contrib import admin

from records.models import StandardizedVaccine


@admin.register(StandardizedVaccine)
class StandardizedVaccineAdmin(admin.ModelAdmin):
    """Admins correct, add and retire entries; `manage.py load_reference_data` re-applies the
    data file to the entries it holds (matched by WHO code, then name) and leaves the rest."""

    list_display = (
        "vaccine_name",
        "short_name",
        "who_code",
        "category",
        "is_combined",
        "is_common",
        "is_active",
        "display_order",
    )
    list_editable = ("is_common", "is_active", "display_order")
    list_filter = ("category", "is_combined", "is_common", "is_active")
    search_fields = ("vaccine_name", "short_name", "who_code", "search_text")
    search_help_text = "Search by name, short name, WHO code, common or brand name, or disease."
    ordering = ("display_order", "vaccine_name")
    readonly_fields = ("search_text",)
    list_per_page = 100
    fieldsets = (
        (None, {"fields": ("vaccine_name", "short_name", "who_code", "category")}),
        ("Coverage", {"fields": ("components", "is_combined")}),
        ("Names", {"fields": ("common_names", "brand_names", "default_manufacturer")}),
        ("Picker", {"fields": ("is_common", "display_order", "is_active")}),
        ("Derived", {"fields": ("search_text",), "classes": ("collapse",)}),
    )
