"""Django admin pages of file migration jobs: read-only (jobs are started and cancelled by
their user through the API); operators can see progress and reasons, and cancel."""

from django.contrib import admin, messages

from files.relocation import services
from files.relocation.models import FileMigrationJob
from medikeep.api.exceptions import ApiError


@admin.register(FileMigrationJob)
class FileMigrationJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "target_backend",
        "status",
        "total_files",
        "moved_files",
        "failed_files",
        "deferred_files",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "target_backend"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "error"]
    date_hierarchy = "created_at"
    actions = ["cancel_jobs"]
    readonly_fields = [field.name for field in FileMigrationJob._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the task writes the fields; the page is for reading

    @admin.action(description="Cancel the selected running migrations")
    def cancel_jobs(self, request, queryset):
        cancelled = 0
        for job in queryset:
            try:
                services.cancel_migration(job=job)
                cancelled += 1
            except ApiError:
                continue  # already ended
        self.message_user(request, f"{cancelled} migration(s) asked to stop.", messages.SUCCESS)
