from django.contrib import admin
from django.db import transaction

from patients.core.admin_fields import tag_list_field
from patients.models import PatientOwnedModel, TaggedMixin
from patients.signals import records_deleted


class PatientOwnedAdmin(admin.ModelAdmin):
    """Admin base of record types: the patient is picked by id, timestamps are read-only."""

    list_select_related = ("patient",)
    raw_id_fields = ("patient",)
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
    list_per_page = 50
    search_help_text = "Search by the record's name fields or the patient's name."

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Tags are typed as "a, b", not as a JSON list.
        if db_field.name == "tags" and issubclass(self.model, TaggedMixin):
            return tag_list_field(label=db_field.verbose_name.capitalize())
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # Deleting from the admin takes dependents (files) along, as the API does.
    def delete_model(self, request, obj):
        with transaction.atomic():
            records_deleted.send(sender=type(obj), model=type(obj), ids=[obj.pk], user=request.user)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True))
            records_deleted.send(
                sender=queryset.model, model=queryset.model, ids=ids, user=request.user
            )
            super().delete_queryset(request, queryset)

    def get_autocomplete_fields(self, request):
        # Shared directory entries a record names (practitioner, pharmacy, injury type) are
        # picked by searching rather than from one select holding the whole directory.
        fields = list(super().get_autocomplete_fields(request))
        for field in self.model._meta.concrete_fields:
            target = field.related_model if field.many_to_one else None
            target_admin = self.admin_site._registry.get(target)
            if (
                target_admin is not None
                and target_admin.search_fields
                and not issubclass(target, PatientOwnedModel)
                and field.name not in self.raw_id_fields
                and field.name not in fields
            ):
                fields.append(field.name)
        return fields
