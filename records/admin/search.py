"""The search index in the admin: read-only (entries are rebuilt from their records; an action
rebuilds the chosen ones, manage.py rebuild_search_index rebuilds them all)."""

from django.contrib import admin, messages

from records.models import SearchEntry
from records.search.index import indexed_models, reindex


@admin.register(SearchEntry)
class SearchEntryAdmin(admin.ModelAdmin):
    list_display = ("title", "record_type", "record_id", "patient", "record_date", "updated_at")
    list_filter = ("record_type",)
    search_fields = ("folded_title", "=record_id")
    list_select_related = ("patient",)
    raw_id_fields = ("patient",)
    date_hierarchy = "record_date"
    readonly_fields = [field.name for field in SearchEntry._meta.fields]
    actions = ["rebuild_entries"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Rebuild the selected entries from their records")
    def rebuild_entries(self, request, queryset):
        models = {model.kind.name: model for model in indexed_models()}
        wanted: dict[str, list[int]] = {}
        for record_type, record_id in queryset.values_list("record_type", "record_id"):
            wanted.setdefault(record_type, []).append(record_id)
        written = 0
        for record_type, ids in wanted.items():
            if record_type in models:
                written += reindex(models[record_type], ids)
            else:  # a type that no longer exists
                queryset.filter(record_type=record_type).delete()
        self.message_user(request, f"{written} entries rebuilt.", messages.SUCCESS)
