"""Request and response shapes of patient sharing and invitations."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from medikeep.api.exceptions import RequestValidationError
from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.serializers import MessageSerializer
from patients.choices import ShareLevel
from patients.core.serializers import LenientChoiceField
from patients.models import PatientShare
from sharing.choices import InvitationType
from sharing.models import Invitation
from sharing.models.invitations import MAX_BULK_PATIENTS, MAX_INVITATION_HOURS

MAX_ID = 2**63 - 1


def validated(serializer_class, data, **kwargs) -> dict:
    """The sharing endpoints answer bad input with 400 (their contract), not 422."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise RequestValidationError(serializer.errors)
    return serializer.validated_data


@extend_schema_field(OpenApiTypes.DATETIME)
class ShareExpiryField(serializers.Field):
    """A datetime, or a date meaning the end of that day (facility time)."""

    default_error_messages = {"invalid": "Give a date (YYYY-MM-DD) or a datetime (ISO 8601)."}

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data.strip()) == 10:
            day = serializers.DateField().to_internal_value(data.strip())
            return timezone.make_aware(dt.datetime.combine(day, dt.time.max))
        try:
            return serializers.DateTimeField().to_internal_value(data)
        except serializers.ValidationError:
            self.fail("invalid")

    def to_representation(self, value):
        return serializers.DateTimeField().to_representation(value)


# --- requests -------------------------------------------------------------------------------


class InviteSerializer(FastSerializer):
    """One patient to one recipient. The two bodies of the contract name the same things
    differently; both are read (recipient_email, access_level, expiration_date)."""

    ALIASES = {
        "recipient_email": "shared_with_user_identifier",
        "access_level": "permission_level",
        "expiration_date": "expires_at",
    }

    patient_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    shared_with_user_identifier = serializers.CharField(
        max_length=255, help_text="The recipient's username or email (recipient_email too)."
    )
    permission_level = LenientChoiceField(
        choices=ShareLevel.choices, default=ShareLevel.VIEW, help_text="access_level too."
    )
    expires_at = ShareExpiryField(
        required=False,
        allow_null=True,
        help_text="When the share ends (expiration_date too; a date means its end).",
    )
    expires_hours = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_INVITATION_HOURS,
        help_text="How long the invitation may be answered (default 168).",
    )
    custom_permissions = serializers.DictField(required=False, allow_null=True)
    message = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=5000
    )

    def to_internal_value(self, data):
        if hasattr(data, "items"):
            data = {key: data[key] for key in data}
            for alias, name in self.ALIASES.items():
                if alias in data and name not in data:
                    data[name] = data.pop(alias)
        return super().to_internal_value(data)


class BulkInviteSerializer(InviteSerializer):
    """Several patients (all the sender's own) in one invitation to one recipient."""

    patient_id = None
    patient_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=MAX_BULK_PATIENTS,
    )

    def validate_patient_ids(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("A patient is listed twice.")
        return value


class MultiRecipientInviteSerializer(InviteSerializer):
    """One patient to several recipients: an invitation each (the 002 bulk body)."""

    shared_with_user_identifier = None
    recipient_emails = serializers.ListField(
        child=serializers.CharField(max_length=255), min_length=1, max_length=MAX_BULK_PATIENTS
    )


class ShareTargetSerializer(FastSerializer):
    """A share named as the web app names it: by patient and grantee."""

    patient_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    shared_with_user_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class ShareUpdateSerializer(FastSerializer):
    """What the owner may change on a share; keys not sent stay as they are."""

    permission_level = LenientChoiceField(choices=ShareLevel.choices, required=False)
    expires_at = ShareExpiryField(
        required=False, allow_null=True, help_text="null: the share no longer expires."
    )
    custom_permissions = serializers.DictField(required=False, allow_null=True)


class InvitationListQuerySerializer(FastSerializer):
    invitation_type = serializers.ChoiceField(
        choices=InvitationType.choices, required=False, allow_blank=True
    )


class InvitationIdSerializer(FastSerializer):
    invitation_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


RESPONSES = {"accepted": True, "accept": True, "rejected": False, "reject": False}


class RespondSerializer(FastSerializer):
    """{response: accepted|rejected} (or {action: accept|reject}), an optional note, and for a
    bulk invitation the patients to accept."""

    invitation_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    response = serializers.CharField(required=False, help_text="accepted or rejected.")
    action = serializers.CharField(required=False, help_text="accept or reject.")
    response_note = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=1000
    )
    patient_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_null=True,
        max_length=MAX_BULK_PATIENTS,
    )

    def validate(self, attrs):
        answer = attrs.get("response") or attrs.get("action")
        if answer is None:
            raise serializers.ValidationError({"response": ["Say accepted or rejected."]})
        if answer.strip().lower() not in RESPONSES:
            raise serializers.ValidationError(
                {"response": [f'"{answer}" is not one of accepted, rejected.']}
            )
        attrs["accept"] = RESPONSES[answer.strip().lower()]
        return attrs


# --- responses ------------------------------------------------------------------------------


class UserBriefSerializer(FastSerializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()
    full_name = serializers.CharField()
    email = serializers.EmailField()

    def get_name(self, user) -> str:
        return user.full_name or user.username


class SharedPatientSerializer(FastSerializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField()


class InvitationSerializer(FastModelSerializer):
    sent_by_user_id = serializers.IntegerField(source="sent_by_id", read_only=True)
    sent_to_user_id = serializers.IntegerField(source="sent_to_id", read_only=True)
    sent_by = UserBriefSerializer(read_only=True)
    sent_to = UserBriefSerializer(read_only=True)
    context_data = serializers.SerializerMethodField(
        help_text="What is offered: the patients (or family members), the level and the "
        "share's expiry, as the reference shows it."
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "sent_by_user_id",
            "sent_to_user_id",
            "invitation_type",
            "status",
            "title",
            "message",
            "permission_level",
            "context_data",
            "expires_at",
            "responded_at",
            "response_note",
            "sent_by",
            "sent_to",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_context_data(self, invitation) -> dict:
        common = {
            "permission_level": invitation.permission_level,
            "custom_permissions": invitation.custom_permissions,
            "expires_at": (
                invitation.share_expires_at.isoformat() if invitation.share_expires_at else None
            ),
        }
        if invitation.invitation_type == InvitationType.FAMILY_HISTORY_SHARE:
            members = [
                {
                    "family_member_id": m.pk,
                    "family_member_name": m.name,
                    "family_member_relationship": m.relationship,
                }
                for m in invitation.family_members.all()
            ]
            common["sharing_note"] = invitation.message
            if invitation.is_bulk:
                return {
                    **common,
                    "family_members": members,
                    "is_bulk_invite": True,
                    "family_member_count": len(members),
                }
            return {**common, **(members[0] if members else {})}
        patients = [
            {
                "patient_id": p.pk,
                "patient_name": f"{p.first_name} {p.last_name}",
                "patient_birth_date": p.birth_date.isoformat(),
            }
            for p in invitation.patients.all()
        ]
        if invitation.is_bulk:
            return {
                **common,
                "patients": patients,
                "is_bulk_invite": True,
                "patient_count": len(patients),
            }
        return {**common, **(patients[0] if patients else {})}


INVITATION_JOINS = ("sent_by", "sent_to")
INVITATION_PREFETCH = ("patients", "family_members")


class ShareSerializer(FastModelSerializer):
    """A grant as its owner and its grantee see it."""

    patient_id = serializers.IntegerField(read_only=True)
    shared_with_user_id = serializers.IntegerField(source="grantee_id", read_only=True)
    shared_by_user_id = serializers.SerializerMethodField()
    permission_level = serializers.CharField(source="level", read_only=True)
    patient = SharedPatientSerializer(read_only=True)
    shared_with = UserBriefSerializer(source="grantee", read_only=True)
    shared_by = serializers.SerializerMethodField()
    # The names the web app reads (the reference's shapes): the owner's list reads the
    # grantee flat, shared-by-me `shared_with_user`, shared-with-me `shared_by_user`.
    shared_with_user = UserBriefSerializer(source="grantee", read_only=True)
    shared_by_user = serializers.SerializerMethodField()
    shared_with_username = serializers.CharField(source="grantee.username", read_only=True)
    shared_with_email = serializers.CharField(source="grantee.email", read_only=True)
    shared_with_full_name = serializers.CharField(source="grantee.full_name", read_only=True)

    class Meta:
        model = PatientShare
        fields = [
            "id",
            "patient_id",
            "shared_by_user_id",
            "shared_with_user_id",
            "shared_with_username",
            "shared_with_email",
            "shared_with_full_name",
            "permission_level",
            "custom_permissions",
            "is_active",
            "expires_at",
            "patient",
            "shared_by",
            "shared_by_user",
            "shared_with",
            "shared_with_user",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    # Who granted it: the user who invited, else (shares made elsewhere) the owner.
    def get_shared_by_user_id(self, share) -> int:
        return share.granted_by_id or share.patient.owner_id

    @extend_schema_field(UserBriefSerializer)
    def get_shared_by(self, share):
        return UserBriefSerializer(share.granted_by or share.patient.owner).data

    get_shared_by_user = get_shared_by


class ShareListSerializer(FastSerializer):
    shares = ShareSerializer(many=True)


SHARE_JOINS = ("patient__owner", "grantee", "granted_by")


class InviteSentSerializer(MessageSerializer):
    invitation_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    title = serializers.CharField()
    patient_count = serializers.IntegerField(required=False)


class BulkResultSerializer(FastSerializer):
    successful_invites = serializers.IntegerField()
    failed_invites = serializers.IntegerField()
    total_sent = serializers.IntegerField(help_text="Same as successful_invites.")
    total_failed = serializers.IntegerField(help_text="Same as failed_invites.")
    results = serializers.ListField(child=serializers.DictField())


class RespondResultSerializer(InvitationSerializer):
    share_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    share_count = serializers.IntegerField(required=False)

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "share_ids", "share_count"]


class RespondShortSerializer(FastSerializer):
    message = serializers.CharField()
    invitation_id = serializers.IntegerField()
    status = serializers.CharField()
    share_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    share_count = serializers.IntegerField(required=False)
