from django.contrib import admin

from adminops import admin_settings  # noqa: F401  (registers SystemSetting)
from adminops.models import ActivityLog, Backup


@admin.register(ActivityLog)
class ActivityLogAdmin(admin.ModelAdmin):
    """The audit trail, read-only: an audit log that operators can edit proves nothing.

    Rows go only with their patient (the privacy rule in adminops/receivers.py).
    """

    list_display = (
        "timestamp",
        "user",
        "action",
        "entity_type",
        "entity_id",
        "description",
        "patient_display",
    )
    list_filter = ("action", "entity_type")
    search_fields = ("description", "patient_label", "user__username")
    search_help_text = "Search by description, patient name or username."
    date_hierarchy = "timestamp"
    list_select_related = ("user", "patient")
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) over a large log on every page is costly

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="patient", ordering="patient_label")
    def patient_display(self, obj: ActivityLog) -> str:
        # The current name while the patient exists, else the name kept at the time.
        return str(obj.patient) if obj.patient_id else obj.patient_label


@admin.register(Backup)
class BackupAdmin(admin.ModelAdmin):
    """Backups are made by the backup service (API, schedule, manage.py backup), not typed in:
    only the description can be edited. Deleting a row here leaves its file, which the
    orphan cleanup then finds; the API's delete removes both."""

    list_display = (
        "created_at",
        "backup_type",
        "status",
        "filename",
        "size_bytes",
        "encrypted",
        "created_by",
    )
    list_filter = ("backup_type", "status", "encrypted")
    search_fields = ("filename", "description")
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)
    readonly_fields = (
        "backup_type",
        "status",
        "filename",
        "path",
        "size_bytes",
        "sha256",
        "encrypted",
        "details",
        "error",
        "created_by",
        "created_at",
        "completed_at",
        "verified_at",
    )

    def has_add_permission(self, request):
        return False
