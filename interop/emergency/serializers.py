"""The emergency summary as JSON: one shape for the signed-in answer, the public link and the
public page (which renders this same data), so they cannot drift apart.

Record ids are left out on purpose: the summary is a document for someone treating the
patient, and the public link should not hand out the server's row numbers.
"""

from __future__ import annotations

from rest_framework import serializers

from interop.emergency.summary import EmergencySummary
from medikeep.api.representation import FastSerializer


class SummaryPatientSerializer(FastSerializer):
    # Reads the summary itself: the age is the summary's (on the day it was generated).
    name = serializers.CharField(source="patient.full_name")
    first_name = serializers.CharField(source="patient.first_name")
    last_name = serializers.CharField(source="patient.last_name")
    birth_date = serializers.DateField(source="patient.birth_date")
    age = serializers.IntegerField(allow_null=True)
    gender = serializers.CharField(source="patient.gender")
    blood_type = serializers.CharField(
        source="patient.blood_type", help_text='"A+" … "O-", or "" when not recorded.'
    )


class SummaryAllergySerializer(FastSerializer):
    allergen = serializers.CharField()
    severity = serializers.CharField()
    reaction = serializers.CharField()
    onset_date = serializers.DateField(allow_null=True)
    notes = serializers.CharField()


class SummaryConditionSerializer(FastSerializer):
    condition_name = serializers.CharField()
    status = serializers.CharField()
    severity = serializers.CharField()
    icd10_code = serializers.CharField()
    snomed_code = serializers.CharField()
    diagnosed_date = serializers.DateField(allow_null=True)
    onset_date = serializers.DateField(allow_null=True)


class SummaryMedicationSerializer(FastSerializer):
    medication_name = serializers.CharField()
    alternative_name = serializers.CharField()
    dosage = serializers.CharField()
    frequency = serializers.CharField()
    route = serializers.CharField()
    indication = serializers.CharField()
    effective_period_start = serializers.DateField(allow_null=True)


class SummaryContactSerializer(FastSerializer):
    name = serializers.CharField()
    relationship = serializers.CharField()
    phone_number = serializers.CharField()
    secondary_phone = serializers.CharField()
    email = serializers.CharField()
    address = serializers.CharField()
    is_primary = serializers.BooleanField()


class SummaryInsuranceSerializer(FastSerializer):
    insurance_type = serializers.CharField()
    company_name = serializers.CharField()
    plan_name = serializers.CharField()
    member_name = serializers.CharField()
    member_id = serializers.CharField()
    group_number = serializers.CharField()
    policy_number = serializers.CharField()
    policy_holder_name = serializers.CharField()
    effective_date = serializers.DateField()
    expiration_date = serializers.DateField(allow_null=True)
    is_primary = serializers.BooleanField()


class EmergencySummarySerializer(FastSerializer):
    """Only active allergies (most dangerous first), active conditions (active, chronic,
    recurrence, relapse), active medications, active emergency contacts (primary first) and
    current insurances (active and not past their expiration date; primary first)."""

    patient = SummaryPatientSerializer(source="*")
    allergies = SummaryAllergySerializer(many=True)
    conditions = SummaryConditionSerializer(many=True)
    medications = SummaryMedicationSerializer(many=True)
    emergency_contacts = SummaryContactSerializer(many=True)
    insurances = SummaryInsuranceSerializer(many=True)
    generated_at = serializers.DateTimeField()


def summary_data(summary: EmergencySummary) -> dict:
    return EmergencySummarySerializer(summary).data
