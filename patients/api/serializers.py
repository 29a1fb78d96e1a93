"""Patient representations and the input rules of the patient endpoints."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.serializers import MessageSerializer  # noqa: F401 (used as s.MessageSerializer)
from patients import photos
from patients.access import level_on
from patients.choices import PatientBloodType, PatientGender
from patients.core.serializers import clean_through_model
from patients.models import Patient, PatientPhoto, record_models
from patients.selectors import PERMISSION_LEVELS

MAX_ID = 2**63 - 1

GENDER_ALIASES = {
    "m": PatientGender.MALE,
    "male": PatientGender.MALE,
    "f": PatientGender.FEMALE,
    "female": PatientGender.FEMALE,
    "other": PatientGender.OTHER,
    "u": PatientGender.UNKNOWN,
    "unknown": PatientGender.UNKNOWN,
}
# Input names other clients use (the spec's second patients API, the reference SPA).
FIELD_ALIASES = {"date_of_birth": "birth_date", "phone": "phone_number"}
# Optional text fields: null clears them (stored as "").
TEXT_FIELDS = (
    "gender",
    "blood_type",
    "address",
    "phone_number",
    "email",
    "relationship_to_self",
)
_MISSING = object()


class GenderField(serializers.ChoiceField):
    """male/female/other/unknown, also M/F/U and any letter case; stored as lower-case words."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "male, female, other or unknown (M, F, U accepted).")
        super().__init__(choices=PatientGender.choices, allow_blank=True, allow_null=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            text = data.strip().lower()
            if not text:
                return ""
            if text in GENDER_ALIASES:
                return str(GENDER_ALIASES[text])
        self.fail("invalid_choice", input=str(data)[:50])


class BloodTypeField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "A+, A-, B+, B-, AB+, AB-, O+ or O- (any letter case).")
        super().__init__(
            choices=PatientBloodType.choices, allow_blank=True, allow_null=True, **kwargs
        )

    def to_internal_value(self, data):
        if isinstance(data, str):
            text = data.strip().upper()
            if not text or text in PatientBloodType.values:
                return text
        self.fail("invalid_choice", input=str(data)[:50])


class StructuredAddressSerializer(FastSerializer):
    street = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    state = serializers.CharField(max_length=50, required=False, allow_blank=True)
    zip_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(max_length=60, required=False, allow_blank=True)


def one_line_address(details: Mapping) -> str:
    """{street, city, state, zip_code, country} -> "123 Main St, Anytown, CA 12345, US"."""
    region = " ".join(p for p in (details.get("state"), details.get("zip_code")) if p)
    parts = (details.get("street"), details.get("city"), region, details.get("country"))
    return ", ".join(p for p in parts if p)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": 500},
            {
                "type": "object",
                "properties": {
                    name: {"type": "string"}
                    for name in ("street", "city", "state", "zip_code", "country")
                },
            },
        ],
        "description": "One line of text, or a structured address (kept in address_details).",
    }
)
class AddressField(serializers.Field):
    default_error_messages = {
        "invalid": "Give the address as text or as {{street, city, state, zip_code, country}}.",
        "too_short": "Address must be at least 5 characters long.",
        "too_long": "Address must be at most 500 characters long.",
    }

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            structured = StructuredAddressSerializer(data=data)
            structured.is_valid(raise_exception=True)
            return dict(structured.validated_data)
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        if len(text) > 500:
            self.fail("too_long")
        if 0 < len(text) < 5:
            self.fail("too_short")
        return text

    def to_representation(self, value):
        return value


class PatientSerializer(FastModelSerializer):
    """A patient. Validation runs the model's full_clean(), so the admin shares the rules."""

    owner_user_id = serializers.IntegerField(source="owner_id", read_only=True)
    # The reference's default; its other value ("private") would block shares, which a share
    # here never is, so every patient answers "owner".
    privacy_level = serializers.SerializerMethodField(help_text='Always "owner".')
    age = serializers.IntegerField(read_only=True, allow_null=True, help_text="Whole years.")
    gender = GenderField(required=False)
    blood_type = BloodTypeField(required=False)
    address = AddressField(required=False, allow_null=True)
    address_details = StructuredAddressSerializer(
        required=False,
        allow_null=True,
        help_text="The structured address when one was given; `address` is derived from it.",
    )
    # The practitioner model is reached through the field, not imported (records/ is above
    # patients/).
    physician_id = serializers.PrimaryKeyRelatedField(
        source="physician",
        queryset=Patient._meta.get_field("physician").related_model.objects.all(),
        required=False,
        allow_null=True,
        help_text="Primary care physician: a practitioner's id.",
        error_messages={"does_not_exist": "No practitioner has the id {pk_value}."},
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "owner_user_id",
            "first_name",
            "last_name",
            "birth_date",
            "age",
            "gender",
            "blood_type",
            "height",
            "weight",
            "address",
            "address_details",
            "phone_number",
            "email",
            "relationship_to_self",
            "is_self_record",
            "physician_id",
            "privacy_level",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "height": {"help_text": "Inches."},
            "weight": {"help_text": "Pounds."},
            "birth_date": {"help_text": "YYYY-MM-DD (date_of_birth is accepted too)."},
            "phone_number": {"allow_null": True, "help_text": "`phone` is accepted too."},
            "email": {"allow_null": True},
            "relationship_to_self": {"allow_null": True},
        }

    def get_privacy_level(self, patient) -> str:
        return "owner"

    # --- input ------------------------------------------------------------------------------

    def run_validation(self, data=serializers.empty):
        aliases_used = {}
        if isinstance(data, Mapping):
            data = {key: data[key] for key in data}
            # The second patients API wraps the body: {"patient": {...}}.
            if set(data) == {"patient"} and isinstance(data["patient"], Mapping):
                data = {key: data["patient"][key] for key in data["patient"]}
            for alias, name in FIELD_ALIASES.items():
                if alias in data and name not in data:
                    data[name] = data.pop(alias)
                    aliases_used[name] = alias
            # Reference clients send "" for a cleared number.
            for name in ("height", "weight", "physician_id"):
                if data.get(name) == "":
                    data[name] = None
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            if aliases_used and isinstance(exc.detail, dict):
                exc.detail = {aliases_used.get(k, k): v for k, v in exc.detail.items()}
            raise

    def validate(self, attrs):
        for name in TEXT_FIELDS:
            if name in attrs and attrs[name] is None:
                attrs[name] = ""
        if self.instance is not None:
            attrs.pop("is_self_record", None)
        self._resolve_address(attrs)
        return self._full_clean(attrs)

    def _resolve_address(self, attrs) -> None:
        """A structured address (as `address` or `address_details`) is kept and the one-line
        address derived from it; a text address drops the structure unless it is the line
        derived from it (a client sending back what it read)."""
        address = attrs.pop("address", _MISSING)
        details = attrs.pop("address_details", _MISSING)
        if isinstance(address, dict):
            details, address = (address if details in (_MISSING, None) else details), _MISSING
        if details is not _MISSING:
            kept = {k: v for k, v in (details or {}).items() if v}
            if kept:
                attrs["address_details"] = kept
                attrs["address"] = one_line_address(kept)
                return
            attrs["address_details"] = None
        if address is not _MISSING:
            attrs["address"] = address
            current = getattr(self.instance, "address_details", None)
            if not (current and one_line_address(current) == address):
                attrs["address_details"] = None

    def _full_clean(self, attrs: dict) -> dict:
        # On a copy: the instance itself changes only in the service, which also answers
        # the one-self-record rule (400, not 422).
        clean_through_model(Patient, self.instance, attrs, exclude=["owner"], uniqueness=False)
        return attrs


class ManagedPatientSerializer(PatientSerializer):
    """A patient in the patient-management endpoints: with the caller's level on it."""

    permission_level = serializers.SerializerMethodField(
        help_text='"full" for the owner and FULL shares, else "edit" or "view".'
    )
    is_owner = serializers.SerializerMethodField()

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "permission_level", "is_owner"]

    def _user(self):
        return self.context["request"].user

    @extend_schema_field(serializers.ChoiceField(choices=["view", "edit", "full"]))
    def get_permission_level(self, patient) -> str | None:
        rank = getattr(patient, "access_rank", None)
        if rank is None:  # not annotated: the per-request memo answers
            user = self._user()
            level = 4 if patient.owner_id == user.pk else level_on(user, patient.pk)
            rank = int(level or 0)
        return PERMISSION_LEVELS.get(rank)

    def get_is_owner(self, patient) -> bool:
        return patient.owner_id == self._user().pk


class PatientListQuerySerializer(FastSerializer):
    skip = serializers.IntegerField(required=False, default=0, min_value=0, max_value=10**9)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=10**9, help_text="Default 100, at most 100."
    )
    page = serializers.IntegerField(
        required=False, min_value=1, max_value=10**7, help_text="1-based; replaces skip."
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=10**9, help_text="Default 100, at most 100."
    )
    include_shared = serializers.BooleanField(required=False, default=True)
    permission = serializers.ChoiceField(
        choices=["view", "edit", "full"],
        required=False,
        default="view",
        help_text="Only patients the user holds at least this level on (the web app sends view).",
    )
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Words of the name."
    )


class PatientListSerializer(FastSerializer):
    patients = ManagedPatientSerializer(many=True)
    total = serializers.IntegerField(help_text="Patients matching the filters (all pages).")
    total_count = serializers.IntegerField(help_text="Same as total (the reference's name).")
    owned_count = serializers.IntegerField()
    shared_count = serializers.IntegerField()


class PatientStatsSerializer(FastSerializer):
    total_patients = serializers.IntegerField()
    owned_patients = serializers.IntegerField()
    shared_patients = serializers.IntegerField()
    self_record_exists = serializers.BooleanField()


class SwitchPatientSerializer(FastSerializer):
    patient_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class DashboardQuerySerializer(FastSerializer):
    patient_id = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Default: the active patient."
    )


class DashboardStatsSerializer(FastSerializer):
    """patient_id, total_records and one count per record type (and its filtered counts)."""

    patient_id = serializers.IntegerField()
    total_records = serializers.IntegerField()

    def get_fields(self):
        fields = super().get_fields()
        for model in record_models():
            label = model._meta.verbose_name_plural
            if model.dashboard_key:
                fields[model.dashboard_key] = serializers.IntegerField(help_text=f"All {label}.")
            for name in model.dashboard_filters:
                fields[name] = serializers.IntegerField(help_text=f"A subset of the {label}.")
        return fields


class PhotoUploadSerializer(FastSerializer):
    file = serializers.FileField(help_text="JPEG, PNG, GIF or BMP; at most 15 MB.")

    def validate_file(self, upload):
        photos.check_size(upload)  # 413
        photos.check_image(upload)  # 422 unless Pillow reads it as an accepted image
        return upload


class PhotoSerializer(FastModelSerializer):
    patient_id = serializers.IntegerField(read_only=True)
    filename = serializers.CharField(read_only=True)

    class Meta:
        model = PatientPhoto
        fields = ["id", "patient_id", "filename", "file_size", "width", "height", "uploaded_at"]


class PhotoInfoSerializer(PhotoSerializer):
    uploaded_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta(PhotoSerializer.Meta):
        fields = [
            *PhotoSerializer.Meta.fields,
            "mime_type",
            "original_name",
            "uploaded_by_id",
            "updated_at",
        ]
