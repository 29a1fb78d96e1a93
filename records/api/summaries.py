"""Short read-only views of records, nested in other records' responses and in links."""

from rest_framework import serializers

from records.models import Condition, Medication


class MedicationSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Medication
        fields = ["id", "medication_name", "dosage", "frequency", "status"]
        read_only_fields = fields


class ConditionSummarySerializer(serializers.ModelSerializer):
    diagnosis = serializers.CharField(source="condition_name", read_only=True)

    class Meta:
        model = Condition
        fields = ["id", "condition_name", "diagnosis", "status", "severity"]
        read_only_fields = fields
