"""Custom reports in the Django admin: templates, and generated reports with their state
(an operator can see what is pending or failed, and why)."""

from django.contrib import admin

from records.models import GeneratedReport, ReportTemplate


@admin.register(ReportTemplate)
class ReportTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "is_public", "shared_with_family", "updated_at")
    list_filter = ("is_public", "shared_with_family")
    list_select_related = ("user",)
    search_fields = ("name", "description", "user__username")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(GeneratedReport)
class GeneratedReportAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "user",
        "patient",
        "status",
        "record_count",
        "file_size",
        "attempts",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "report_type")
    list_select_related = ("user", "patient")
    search_fields = ("title", "user__username", "patient__last_name")
    raw_id_fields = ("user", "patient")
    date_hierarchy = "created_at"
    # The state is the worker's to change; the bytes are named by storage_key.
    readonly_fields = (
        "status",
        "storage_key",
        "file_size",
        "record_count",
        "attempts",
        "error",
        "request",
        "created_at",
        "started_at",
        "finished_at",
    )
