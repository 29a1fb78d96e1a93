"""/family-history-sharing: an owner offers family members (with their conditions) to other
users by invitation; recipients read them, nothing more. The flow and its rules are
sharing/services/family.py; invitations are answered through /invitations."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.views import ApiView
from patients.core.serializers import LenientChoiceField
from records.models import FamilyCondition, FamilyMember
from sharing.api.serializers import (
    MAX_ID,
    BulkResultSerializer,
    MessageSerializer,
    UserBriefSerializer,
    validated,
)
from sharing.models import FamilyHistoryShare, Invitation
from sharing.models.family import FamilyShareLevel
from sharing.models.invitations import MAX_BULK_PATIENTS, MAX_INVITATION_HOURS
from sharing.services import family as service
from sharing.services.invitations import find_recipient, invite_each

TAGS = ["family-history-sharing"]

# --- responses ----------------------------------------------------------------------------

CONDITION_FIELDS = [
    "id",
    "family_member_id",
    "condition_name",
    "condition_type",
    "diagnosis_age",
    "severity",
    "status",
    "icd10_code",
    "notes",
    "created_at",
    "updated_at",
]

# The fields /family-members shows, so a shared member looks like an owned one.
MEMBER_FIELDS = [
    "id",
    "patient_id",
    "name",
    "relationship",
    "gender",
    "birth_date",
    "birth_year",
    "is_deceased",
    "death_date",
    "death_year",
    "death_age",
    "medical_history",
    "notes",
    "created_at",
    "updated_at",
]


class FamilyConditionReadSerializer(FastModelSerializer):
    family_member_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = FamilyCondition
        fields = CONDITION_FIELDS
        read_only_fields = fields


class FamilyMemberReadSerializer(FastModelSerializer):
    patient_id = serializers.IntegerField(read_only=True)
    death_age = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = FamilyMember
        fields = MEMBER_FIELDS
        read_only_fields = fields


class FamilyMemberHistorySerializer(FamilyMemberReadSerializer):
    """A family member with its conditions (its medical history)."""

    family_conditions = FamilyConditionReadSerializer(many=True, read_only=True)

    class Meta(FamilyMemberReadSerializer.Meta):
        fields = [*MEMBER_FIELDS, "family_conditions"]
        read_only_fields = fields


class ReceivedShareSerializer(FastModelSerializer):
    """The share as its recipient sees it."""

    shared_by = UserBriefSerializer(read_only=True)
    shared_at = serializers.DateTimeField(source="created_at", read_only=True)
    invitation_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = FamilyHistoryShare
        fields = [
            "id",
            "shared_by",
            "permission_level",
            "sharing_note",
            "shared_at",
            "invitation_id",
        ]
        read_only_fields = fields


class SharedFamilyMemberSerializer(FamilyMemberHistorySerializer):
    """A family member shared with you, with who shared it. Read-only for you whatever
    permission_level says."""

    share = serializers.SerializerMethodField()

    class Meta(FamilyMemberHistorySerializer.Meta):
        fields = [*FamilyMemberHistorySerializer.Meta.fields, "share"]
        read_only_fields = fields

    @extend_schema_field(ReceivedShareSerializer)
    def get_share(self, member) -> dict:
        return ReceivedShareSerializer(member.received_share).data


class ShareDetailsSerializer(FastModelSerializer):
    shared_by = UserBriefSerializer(read_only=True)
    shared_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = FamilyHistoryShare
        fields = ["id", "shared_by", "shared_at", "sharing_note", "permission_level"]
        read_only_fields = fields


class SharedFamilyHistorySerializer(FastModelSerializer):
    """A share received, as the web app reads it: {family_member, share_details}."""

    family_member = FamilyMemberHistorySerializer(read_only=True)
    share_details = ShareDetailsSerializer(source="*", read_only=True)

    class Meta:
        model = FamilyHistoryShare
        fields = ["family_member", "share_details"]
        read_only_fields = fields


class SharedWithMeSerializer(FastSerializer):
    shared_family_history = SharedFamilyHistorySerializer(many=True)


class GivenShareSerializer(FastModelSerializer):
    """A share as the member's owner sees it."""

    family_member_id = serializers.IntegerField(read_only=True)
    shared_by_user_id = serializers.IntegerField(source="shared_by_id", read_only=True)
    shared_with_user_id = serializers.IntegerField(source="shared_with_id", read_only=True)
    invitation_id = serializers.IntegerField(read_only=True, allow_null=True)
    shared_with = UserBriefSerializer(read_only=True)

    class Meta:
        model = FamilyHistoryShare
        fields = [
            "id",
            "family_member_id",
            "shared_by_user_id",
            "shared_with_user_id",
            "permission_level",
            "sharing_note",
            "is_active",
            "invitation_id",
            "shared_with",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InvitationBriefSerializer(FastModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "title", "message", "responded_at"]
        read_only_fields = fields


class MemberShareSerializer(GivenShareSerializer):
    invitation = InvitationBriefSerializer(read_only=True, allow_null=True)

    class Meta(GivenShareSerializer.Meta):
        fields = [*GivenShareSerializer.Meta.fields, "invitation"]
        read_only_fields = fields


class SharedByMeSerializer(FamilyMemberReadSerializer):
    shares = GivenShareSerializer(source="active_shares", many=True, read_only=True)

    class Meta(FamilyMemberReadSerializer.Meta):
        fields = [*MEMBER_FIELDS, "shares"]
        read_only_fields = fields


class MineSerializer(FastSerializer):
    owned_family_members = FamilyMemberHistorySerializer(many=True)
    shared_family_members = SharedFamilyMemberSerializer(many=True)
    total_owned = serializers.IntegerField()
    total_shared = serializers.IntegerField()
    owned_family_history = FamilyMemberHistorySerializer(
        many=True, help_text="The web app's name for owned_family_members."
    )
    shared_family_history = SharedFamilyHistorySerializer(
        many=True, help_text="The shared members as shared-with-me answers them."
    )


class FamilyShareSentSerializer(MessageSerializer):
    invitation_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    title = serializers.CharField()
    family_member_id = serializers.IntegerField()
    shared_with_user_id = serializers.IntegerField()
    permission_level = serializers.CharField()
    status = serializers.CharField()


# --- requests -----------------------------------------------------------------------------


def _renamed(data, aliases: dict[str, str]):
    """The body with the reference's other names for a field read as ours."""
    if not hasattr(data, "items"):
        return data
    data = {key: data[key] for key in data}
    for alias, name in aliases.items():
        if alias in data and name not in data:
            data[name] = data.pop(alias)
    return data


def _permission_field():
    return LenientChoiceField(
        choices=FamilyShareLevel.choices,
        default=FamilyShareLevel.VIEW,
        help_text="view or edit; stored as given, recipients can only read either way.",
    )


def _expires_hours_field():
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_INVITATION_HOURS,
        help_text="How long the invitation may be answered (default 168).",
    )


class FamilyShareInviteSerializer(FastSerializer):
    """The recipient by id or by username/email (one of them); `sharing_note` and `message`
    are read as `notes`."""

    ALIASES = {
        "shared_with_user_identifier": "shared_with_identifier",
        "sharing_note": "notes",
        "message": "notes",
    }

    shared_with_user_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    shared_with_identifier = serializers.CharField(
        max_length=255, required=False, help_text="The recipient's username or email."
    )
    permission_level = _permission_field()
    notes = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=5000
    )
    expires_hours = _expires_hours_field()

    def to_internal_value(self, data):
        return super().to_internal_value(_renamed(data, self.ALIASES))

    def validate(self, attrs):
        given = [
            name for name in ("shared_with_user_id", "shared_with_identifier") if attrs.get(name)
        ]
        if len(given) != 1:
            raise serializers.ValidationError(
                {
                    "shared_with_user_id": [
                        "Give either shared_with_user_id or shared_with_identifier."
                    ]
                }
            )
        return attrs


class FamilyBulkInviteSerializer(FastSerializer):
    """Family members (all yours) to one or more recipients: an invitation each."""

    ALIASES = {"sharing_note": "message", "notes": "message"}

    family_member_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=MAX_BULK_PATIENTS,
    )
    recipient_emails = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        max_length=MAX_BULK_PATIENTS,
        help_text="Recipients by email (or username).",
    )
    shared_with_identifier = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        max_length=MAX_BULK_PATIENTS,
        help_text="Recipients by username or email; a single string is read too.",
    )
    permission_level = _permission_field()
    message = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=5000
    )
    expires_hours = _expires_hours_field()

    def to_internal_value(self, data):
        data = _renamed(data, self.ALIASES)
        if isinstance(data, dict) and isinstance(data.get("shared_with_identifier"), str):
            data["shared_with_identifier"] = [data["shared_with_identifier"]]
        return super().to_internal_value(data)

    def validate_family_member_ids(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("A family member is listed twice.")
        return value

    def validate(self, attrs):
        recipients, seen = [], set()
        for text in [*attrs.get("recipient_emails", []), *attrs.get("shared_with_identifier", [])]:
            text = text.strip()
            if text and text.lower() not in seen:
                seen.add(text.lower())
                recipients.append(text)
        if not recipients:
            raise serializers.ValidationError(
                {"recipient_emails": ["Give at least one recipient."]}
            )
        attrs["recipients"] = recipients
        return attrs


# --- views --------------------------------------------------------------------------------


def _shared_members(shares) -> list[FamilyMember]:
    """The members of shares received, each carrying the share that reached it."""
    members = []
    for share in shares:
        member = share.family_member
        member.received_share = share
        members.append(member)
    return members


class MineView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=MineSerializer, operation_id="family_history_mine")
    def get(self, request):
        """Every family member you can read: your own and those shared with you."""
        owned = FamilyMemberHistorySerializer(service.owned_members(request.user), many=True).data
        shares = list(service.shares_with(request.user))
        shared = SharedFamilyMemberSerializer(_shared_members(shares), many=True).data
        return Response(
            {
                "owned_family_members": owned,
                "shared_family_members": shared,
                "total_owned": len(owned),
                "total_shared": len(shared),
                # The same lists under the web app's names and shapes.
                "owned_family_history": owned,
                "shared_family_history": SharedFamilyHistorySerializer(shares, many=True).data,
            }
        )


class MyOwnView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        responses=FamilyMemberHistorySerializer(many=True),
        operation_id="family_history_my_own",
    )
    def get(self, request):
        """The family members of every patient you own, with their conditions."""
        members = service.owned_members(request.user)
        return Response(FamilyMemberHistorySerializer(members, many=True).data)


class SharedWithMeView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        responses=SharedWithMeSerializer,
        operation_id="family_history_shared_with_me",
    )
    def get(self, request):
        """Family members others share with you, with their conditions and who shared them,
        as {shared_family_history: [{family_member, share_details}]}. You can read them only."""
        # An object, not the spec's bare array: the web app reads `shared_family_history` and
        # takes an array for "nothing shared"; one answer cannot be both, so the app's wins.
        shares = service.shares_with(request.user)
        return Response(
            {"shared_family_history": SharedFamilyHistorySerializer(shares, many=True).data}
        )


class SharedByMeView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        responses=SharedByMeSerializer(many=True),
        operation_id="family_history_shared_by_me",
    )
    def get(self, request):
        """Your family members that are shared, each with its active shares."""
        members = service.members_shared_by(request.user)
        return Response(SharedByMeSerializer(members, many=True).data)


class MemberSharesView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "The family member is already shared with this user."}
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        responses=MemberShareSerializer(many=True),
        operation_id="family_history_member_shares",
    )
    def get(self, request, family_member_id: int):
        """Who this family member of yours is shared with."""
        shares = service.member_shares(request.user, family_member_id)
        return Response(MemberShareSerializer(shares, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=FamilyShareInviteSerializer,
        responses={201: FamilyShareSentSerializer},
        operation_id="family_history_share_invite",
    )
    def post(self, request, family_member_id: int):
        """Invites a user to read this family member's history. Nothing is shared until
        they accept the invitation (POST /invitations/{id}/respond)."""
        data = validated(FamilyShareInviteSerializer, request.data)
        member = service.owned_member(request.user, family_member_id)
        if data.get("shared_with_user_id"):
            recipient = service.find_user_by_id(data["shared_with_user_id"])
        else:
            recipient = find_recipient(data["shared_with_identifier"])
        invitation = service.invite_family_members(
            sender=request.user,
            members=[member],
            recipient=recipient,
            permission_level=data["permission_level"],
            message=data.get("notes") or "",
            expires_hours=data.get("expires_hours"),
        )
        body = {
            "message": "Family history share invitation sent successfully",
            "invitation_id": invitation.pk,
            "expires_at": invitation.expires_at,
            "title": invitation.title,
            "family_member_id": member.pk,
            "shared_with_user_id": recipient.pk,
            "permission_level": invitation.permission_level,
            "status": invitation.status,
        }
        return Response(FamilyShareSentSerializer(body).data, status=status.HTTP_201_CREATED)


class RevokeShareView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=MessageSerializer, operation_id="family_history_revoke")
    def delete(self, request, family_member_id: int, user_id: int):
        """Ends a user's access to your family member at once."""
        service.revoke_family_share(owner=request.user, member_id=family_member_id, user_id=user_id)
        return Response({"message": "Access revoked successfully"})


class RemoveAccessView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS, responses=MessageSerializer, operation_id="family_history_remove_access"
    )
    def delete(self, request, family_member_id: int):
        """Gives up your own access to a family member shared with you."""
        service.leave_family_share(user=request.user, member_id=family_member_id)
        return Response({"message": "Access removed successfully"})


class BulkInviteView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "A family member is already shared with a recipient."}
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        request=FamilyBulkInviteSerializer,
        responses=BulkResultSerializer,
        operation_id="family_history_bulk_invite",
    )
    def post(self, request):
        """Invites each recipient to all the given family members (one invitation each,
        which they may accept for some members). Every member must be yours (404 otherwise,
        nothing sent); a recipient that cannot be invited is reported in `results`."""
        data = validated(FamilyBulkInviteSerializer, request.data)
        members = service.owned_members_by_id(request.user, data["family_member_ids"])
        body = invite_each(
            data["recipients"],
            lambda recipient: service.invite_family_members(
                sender=request.user,
                members=members,
                recipient=recipient,
                permission_level=data["permission_level"],
                message=data.get("message") or "",
                expires_hours=data.get("expires_hours"),
                bulk=True,
            ),
        )
        return Response(body)


class DetailsView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        responses=FamilyMemberHistorySerializer,
        operation_id="family_history_details",
    )
    def get(self, request, family_member_id: int):
        """A family member with its conditions, for its owner or a user it is shared with."""
        member = service.readable_member(request.user, family_member_id)
        return Response(FamilyMemberHistorySerializer(member).data)


BASE = "family-history-sharing"

urlpatterns = [
    path(f"{BASE}/mine", MineView.as_view()),
    path(f"{BASE}/my-own", MyOwnView.as_view()),
    path(f"{BASE}/shared-with-me", SharedWithMeView.as_view()),
    path(f"{BASE}/shared-by-me", SharedByMeView.as_view()),
    path(f"{BASE}/bulk-invite", BulkInviteView.as_view()),
    path(
        f"{BASE}/shared-with-me/<int:family_member_id>/remove-access",
        RemoveAccessView.as_view(),
    ),
    path(f"{BASE}/<int:family_member_id>/shares", MemberSharesView.as_view()),
    path(f"{BASE}/<int:family_member_id>/shares/<int:user_id>", RevokeShareView.as_view()),
    path(f"{BASE}/<int:family_member_id>/details", DetailsView.as_view()),
]
