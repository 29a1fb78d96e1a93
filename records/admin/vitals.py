from django.contrib import admin

from patients.core.admin import PatientOwnedAdmin
from records.models import Vitals


@admin.register(Vitals)
class VitalsAdmin(PatientOwnedAdmin):
    list_display = (
        "recorded_date",
        "patient",
        "systolic_bp",
        "diastolic_bp",
        "heart_rate",
        "weight",
        "blood_glucose",
        "glucose_context",
        "import_source",
    )
    list_filter = ("glucose_context", "import_source")
    search_fields = ("notes", "location", "device_used", "patient__last_name")
    date_hierarchy = "recorded_date"
    readonly_fields = ("import_source", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("patient", "recorded_date")}),
        (
            "Measurements",
            {
                "fields": (
                    ("systolic_bp", "diastolic_bp", "heart_rate"),
                    ("temperature", "oxygen_saturation", "respiratory_rate"),
                    ("weight", "height", "bmi"),
                    ("blood_glucose", "glucose_context", "a1c"),
                    "pain_scale",
                )
            },
        ),
        ("Context", {"fields": ("location", "device_used", "notes")}),
        ("Record", {"fields": ("import_source", "created_at", "updated_at")}),
    )
