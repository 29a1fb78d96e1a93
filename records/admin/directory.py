"""Admin of the shared directory: specialties, practices, practitioners and pharmacies."""

from django.contrib import admin
from django.db.models import Count

from records.models import MedicalSpecialty, Pharmacy, Practice, Practitioner


class DirectoryAdmin(admin.ModelAdmin):
    """Admin base of directory entries: who added an entry is recorded, not edited."""

    readonly_fields = ("created_by", "created_at", "updated_at")
    list_per_page = 50
    date_hierarchy = "created_at"

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(MedicalSpecialty)
class MedicalSpecialtyAdmin(DirectoryAdmin):
    list_display = ("name", "category", "is_active", "practitioner_count", "created_by")
    list_filter = ("is_active", "category")
    list_select_related = ("created_by",)
    search_fields = ("name", "description")
    actions = ("activate", "deactivate")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_practitioners=Count("practitioners"))

    @admin.display(description="practitioners", ordering="_practitioners")
    def practitioner_count(self, obj):
        return obj._practitioners

    @admin.action(description="Activate the selected specialties")
    def activate(self, request, queryset):
        queryset.update(is_active=True)

    @admin.action(description="Deactivate the selected specialties (hidden from dropdowns)")
    def deactivate(self, request, queryset):
        queryset.update(is_active=False)


class PractitionerInline(admin.TabularInline):
    model = Practitioner
    fields = ("name", "specialty", "phone_number")
    autocomplete_fields = ("specialty",)
    extra = 0
    show_change_link = True


@admin.register(Practice)
class PracticeAdmin(DirectoryAdmin):
    list_display = ("name", "phone_number", "website", "practitioner_count", "created_by")
    list_select_related = ("created_by",)
    search_fields = ("name", "notes")
    inlines = [PractitionerInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_practitioners=Count("practitioners"))

    @admin.display(description="practitioners", ordering="_practitioners")
    def practitioner_count(self, obj):
        return obj._practitioners


@admin.register(Practitioner)
class PractitionerAdmin(DirectoryAdmin):
    list_display = ("name", "specialty", "practice", "phone_number", "rating", "created_by")
    list_filter = ("specialty", "specialty__category")
    list_select_related = ("specialty", "practice", "created_by")
    search_fields = ("name", "email", "specialty__name", "practice__name")
    autocomplete_fields = ("specialty", "practice")


@admin.register(Pharmacy)
class PharmacyAdmin(DirectoryAdmin):
    list_display = ("name", "brand", "city", "state", "zip_code", "phone_number", "created_by")
    list_filter = ("drive_through", "twenty_four_hour", "brand", "state", "country")
    list_select_related = ("created_by",)
    search_fields = ("name", "brand", "city", "zip_code", "store_number")
