"""Operators' views of patients, shares and photos."""

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from patients.api.serializers import one_line_address
from patients.models import Patient, PatientPhoto, PatientShare, record_models

# The parts of the structured address, as the API's StructuredAddressSerializer has them.
ADDRESS_PARTS = ("street", "city", "state", "zip_code", "country")


class PatientAdminForm(forms.ModelForm):
    """The structured address ({street, city, state, zip_code, country}, as the API takes it)
    as five text boxes rather than JSON. When any part is given, the one-line address is made
    from the parts, as the API does; with none, the one-line address is kept as typed."""

    class Meta:
        model = Patient
        fields = (
            "owner",
            "first_name",
            "last_name",
            "birth_date",
            "gender",
            "blood_type",
            "height",
            "weight",
            "physician",
            "relationship_to_self",
            "phone_number",
            "email",
            "address",
            "is_self_record",
        )

    street = forms.CharField(label="Street", max_length=200, required=False)
    city = forms.CharField(label="City", max_length=100, required=False)
    state = forms.CharField(label="State or region", max_length=50, required=False)
    zip_code = forms.CharField(label="Postal code", max_length=20, required=False)
    country = forms.CharField(label="Country", max_length=60, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        details = self.instance.address_details or {}
        for name in ADDRESS_PARTS:
            self.initial.setdefault(name, details.get(name, ""))
        if "address" in self.fields:
            self.fields[
                "address"
            ].help_text = "One line. Filled from the parts below when any of them is given."

    def clean(self):
        cleaned = super().clean()
        parts = {name: (cleaned.get(name) or "").strip() for name in ADDRESS_PARTS}
        details = {name: value for name, value in parts.items() if value}
        if details:
            cleaned["address"] = one_line_address(details)
        self.instance.address_details = details or None
        return cleaned


def record_counts(patient_id: int) -> list[tuple[type, int]]:
    """How many records of each type the patient has, in one query whatever the number of
    types (each count is a subquery of one SELECT)."""
    models = sorted(record_models(), key=lambda model: str(model._meta.verbose_name_plural))
    counts = {
        f"n{index}": Coalesce(
            Subquery(
                model._default_manager.filter(patient_id=OuterRef("pk"))
                .order_by()
                .values("patient_id")
                .annotate(n=Count("*"))
                .values("n")[:1],
                output_field=IntegerField(),
            ),
            0,
        )
        for index, model in enumerate(models)
    }
    row = Patient.objects.filter(pk=patient_id).values(**counts).first() or {}
    return [(model, row.get(f"n{index}", 0)) for index, model in enumerate(models)]


class PatientShareInline(admin.TabularInline):
    model = PatientShare
    fk_name = "patient"
    extra = 0
    raw_id_fields = ("grantee", "granted_by")
    fields = ("grantee", "level", "expires_at", "is_active", "granted_by", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "first_name",
        "last_name",
        "birth_date",
        "gender",
        "owner",
        "is_self_record",
        "created_at",
    )
    list_display_links = ("id", "first_name", "last_name")
    list_filter = ("gender", "is_self_record", "blood_type")
    list_select_related = ("owner",)
    search_fields = ("first_name", "last_name", "owner__username", "owner__email")
    search_help_text = "Search by the patient's name or the owner's username or email."
    raw_id_fields = ("owner",)
    autocomplete_fields = ("physician",)  # searched in the practitioner directory
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
    list_per_page = 50
    inlines = [PatientShareInline]
    form = PatientAdminForm
    fieldsets = (
        (None, {"fields": ("owner", "first_name", "last_name", "birth_date", "gender")}),
        (
            "Health",
            {"fields": ("blood_type", "height", "weight", "physician", "relationship_to_self")},
        ),
        (
            "Contact",
            {"fields": ("phone_number", "email", "address", *ADDRESS_PARTS)},
        ),
        ("Records", {"fields": ("record_links",)}),
        ("Record", {"fields": ("is_self_record", "created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "record_links")

    @admin.display(description="records of this patient")
    def record_links(self, patient):
        """A link per record type to its list filtered to this patient, with the count."""
        if patient is None or patient.pk is None:
            return "—"
        links = []
        for model, count in record_counts(patient.pk):
            if model not in self.admin_site._registry:
                continue
            opts = model._meta
            try:
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            except NoReverseMatch:
                continue
            links.append(
                (f"{url}?patient__id__exact={patient.pk}", opts.verbose_name_plural, count)
            )
        return format_html(
            '<ul class="record-links">{}</ul>',
            format_html_join("", '<li><a href="{}">{}</a>: {}</li>', links),
        )


@admin.register(PatientShare)
class PatientShareAdmin(admin.ModelAdmin):
    list_display = ("patient", "grantee", "level", "expires_at", "is_active", "created_at")
    list_filter = ("level", "is_active")
    list_select_related = ("patient", "grantee")
    search_fields = ("patient__first_name", "patient__last_name", "grantee__username")
    raw_id_fields = ("patient", "grantee", "granted_by")
    readonly_fields = ("created_at", "updated_at")
    list_per_page = 50


@admin.register(PatientPhoto)
class PatientPhotoAdmin(admin.ModelAdmin):
    """Metadata only: photos are uploaded through the API (content checks, re-encoding) and
    served only by the access-checked endpoint, so the admin neither adds nor links files."""

    list_display = ("patient", "width", "height", "file_size", "uploaded_by", "uploaded_at")
    list_select_related = ("patient", "uploaded_by")
    search_fields = ("patient__first_name", "patient__last_name", "original_name")
    fields = (
        "patient",
        "stored_name",
        "original_name",
        "mime_type",
        "file_size",
        "width",
        "height",
        "uploaded_by",
        "uploaded_at",
        "updated_at",
    )
    readonly_fields = (
        "patient",
        "stored_name",
        "original_name",
        "mime_type",
        "file_size",
        "width",
        "height",
        "uploaded_by",
        "uploaded_at",
        "updated_at",
    )
    date_hierarchy = "uploaded_at"

    @admin.display(description="stored file")
    def stored_name(self, photo):
        return photo.file.name

    def has_add_permission(self, request):
        return False
