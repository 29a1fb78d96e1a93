"""Short read-only views of records, nested in other records' responses and in links."""

from rest_framework import serializers

from medikeep.api.representation import FastModelSerializer
from records.models import Condition, Medication, Pharmacy, Practitioner

# What a record's viewset joins so its practitioner (and pharmacy) summaries cost no query.
PRACTITIONER_JOIN = "practitioner__specialty"
PRACTITIONER_PRACTICE_JOIN = "practitioner__practice"
# The Meta.fields a record with a practitioner adds: the writable id and the summary.
PRACTITIONER_FIELDS = ("practitioner_id", "practitioner")


class MedicationSummarySerializer(FastModelSerializer):
    class Meta:
        model = Medication
        fields = ["id", "medication_name", "dosage", "frequency", "status"]
        read_only_fields = fields


class ConditionSummarySerializer(FastModelSerializer):
    diagnosis = serializers.CharField(source="condition_name", read_only=True)

    class Meta:
        model = Condition
        fields = ["id", "condition_name", "diagnosis", "status", "severity"]
        read_only_fields = fields


class PractitionerSummarySerializer(FastModelSerializer):
    """A practitioner as records show it: specialty is the specialty's name."""

    specialty = serializers.CharField(source="specialty.name", read_only=True)

    class Meta:
        model = Practitioner
        fields = ["id", "name", "specialty"]
        read_only_fields = fields


class PractitionerWithPracticeSerializer(PractitionerSummarySerializer):
    """A practitioner with the practice's name (join PRACTITIONER_PRACTICE_JOIN too)."""

    practice = serializers.CharField(source="practice.name", read_only=True, allow_null=True)

    class Meta(PractitionerSummarySerializer.Meta):
        fields = [*PractitionerSummarySerializer.Meta.fields, "practice"]
        read_only_fields = fields


class PharmacySummarySerializer(FastModelSerializer):
    class Meta:
        model = Pharmacy
        fields = ["id", "name", "brand"]
        read_only_fields = fields
