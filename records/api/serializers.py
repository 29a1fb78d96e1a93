from rest_framework import serializers

from patients.core.serializers import BASE_FIELDS, TIMESTAMP_FIELDS, PatientOwnedSerializer
from records.models import Gauge, Medication


class MedicationSerializer(PatientOwnedSerializer):
    reminder_times = serializers.ListField(
        child=serializers.CharField(max_length=5), required=False, max_length=50
    )
    reminder_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        allow_null=True,
        max_length=7,
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )

    class Meta:
        model = Medication
        fields = [
            *BASE_FIELDS,
            "medication_name",
            "alternative_name",
            "medication_type",
            "dosage",
            "frequency",
            "route",
            "indication",
            "effective_period_start",
            "effective_period_end",
            "status",
            "notes",
            "side_effects",
            "tags",
            "reminder_enabled",
            "reminder_times",
            "reminder_message",
            "reminder_days",
            *TIMESTAMP_FIELDS,
        ]


class GaugeSerializer(PatientOwnedSerializer):
    class Meta:
        model = Gauge
        fields = [
            *BASE_FIELDS,
            "gauge_type",
            "value",
            "scale_min",
            "scale_max",
            "recorded_at",
            "notes",
            "medication_id",
            *TIMESTAMP_FIELDS,
        ]
