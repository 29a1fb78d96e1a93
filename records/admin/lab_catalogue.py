"""Admin of the lab-test catalogue (StandardizedTest) and its load history."""

from django.contrib import admin

from records.models import StandardizedTest, StandardizedTestLoad


@admin.register(StandardizedTest)
class StandardizedTestAdmin(admin.ModelAdmin):
    """Admins correct, add and retire entries; `manage.py load_reference_data` (or the
    maintenance reload) re-applies the data file to the entries it holds, matched by LOINC
    code, and leaves the rest. Searching covers the code, names and common names."""

    list_display = (
        "loinc_code",
        "short_name",
        "test_name",
        "category",
        "default_unit",
        "result_type",
        "is_common",
        "is_active",
        "display_order",
    )
    list_display_links = ("loinc_code", "short_name")
    list_editable = ("is_common", "is_active", "display_order")
    list_filter = ("category", "result_type", "is_common", "is_active")
    search_fields = ("loinc_code", "test_name", "short_name", "search_text")
    search_help_text = "Search by LOINC code, name, short name or common name."
    ordering = ("display_order", "test_name")
    readonly_fields = ("search_text", "created_at", "updated_at")
    list_per_page = 100
    fieldsets = (
        (None, {"fields": ("loinc_code", "test_name", "short_name", "category")}),
        ("Results", {"fields": ("result_type", "default_unit")}),
        ("Names", {"fields": ("common_names",)}),
        ("Pickers", {"fields": ("is_common", "display_order", "is_active")}),
        (
            "Derived",
            {"fields": ("search_text", "created_at", "updated_at"), "classes": ("collapse",)},
        ),
    )


@admin.register(StandardizedTestLoad)
class StandardizedTestLoadAdmin(admin.ModelAdmin):
    """Read-only history of catalogue loads."""

    list_display = ("loaded_at", "version", "checksum", "created", "updated", "unchanged")
    date_hierarchy = "loaded_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
