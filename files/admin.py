from django.contrib import admin, messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from files import services
from files.models import EntityFile
from files.streaming import StoredFileMissing, file_response
from medikeep.api.exceptions import ApiError


class TrashFilter(admin.SimpleListFilter):
    title = "trash"
    parameter_name = "trash"

    def lookups(self, request, model_admin):
        return [("live", "Not in the trash"), ("trashed", "In the trash")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.live()
        if self.value() == "trashed":
            return queryset.trashed()
        return queryset


@admin.register(EntityFile)
class EntityFileAdmin(admin.ModelAdmin):
    list_display = (
        "file_name",
        "entity_type",
        "entity_id",
        "patient",
        "file_type",
        "file_size",
        "storage_backend",
        "uploaded_at",
        "trashed_at",
        "download_link",
    )
    list_filter = ("entity_type", "storage_backend", TrashFilter, "sync_status")
    search_fields = (
        "file_name",
        "description",
        "category",
        "patient__first_name",
        "patient__last_name",
    )
    search_help_text = "Search by file name, description, category or the patient's name."
    list_select_related = ("patient",)
    raw_id_fields = ("patient", "uploaded_by", "trashed_by")
    date_hierarchy = "uploaded_at"
    list_per_page = 50
    actions = ["restore_from_trash"]
    readonly_fields = (
        "patient",
        "entity_type",
        "entity_id",
        "stored_name",
        "file_size",
        "file_type",
        "sha256",
        "storage_backend",
        "uploaded_by",
        "uploaded_at",
        "updated_at",
        "trashed_at",
        "trashed_by",
        "trash_reason",
        "download_link",
    )

    def has_add_permission(self, request):
        return False  # files arrive through uploads, which check their content

    @admin.display(description="download")
    def download_link(self, obj):
        url = reverse("admin:files_entityfile_download", args=[obj.pk])
        return format_html('<a href="{}">download</a>', url)

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:file_id>/download/", download, name="files_entityfile_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, file_id):
        # The admin's own access check: staff with view permission on files.
        entity_file = EntityFile.objects.filter(pk=file_id).first()
        if entity_file is None or not self.has_view_permission(request, entity_file):
            raise Http404("No such file.")
        try:
            return file_response(request, entity_file, as_attachment=True)
        except StoredFileMissing:
            self.message_user(
                request, "The file's content is missing from storage.", messages.ERROR
            )
            return redirect("admin:files_entityfile_change", file_id)

    @admin.action(description="Restore the selected files from the trash")
    def restore_from_trash(self, request, queryset):
        restored, refused = 0, 0
        for entity_file in queryset.filter(~Q(trashed_at=None)):
            try:
                services.restore(user=request.user, entity_file=entity_file)
                restored += 1
            except ApiError:
                refused += 1
        self.message_user(request, f"Restored {restored} file(s).", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} file(s) stay in the trash: their record no longer exists.",
                messages.WARNING,
            )


# The pages of file migration jobs (moving local files to a document back-end).
from files.relocation import admin as relocation_admin  # noqa: E402, F401
