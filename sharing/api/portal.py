"""The patient portal: invitations (/patients/{id}/portal/invite, /portal/invitation,
/portal/accept, and the /portal/join page), portal requests (/patients/{id}/questionnaires,
/patients/{id}/rxs) and the managers' queue (/patients/{id}/portal/enqueued)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from medikeep.accounts import services as accounts
from medikeep.accounts import tokens
from medikeep.accounts.validators import validate_username
from medikeep.api.pagination import skip_limit
from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.views import ApiView
from medikeep.middleware import client_ip
from patients.choices import ShareLevel
from patients.core.serializers import LenientChoiceField
from records.models import MedicationRoute, Pharmacy
from sharing.api.serializers import MAX_ID, MessageSerializer
from sharing.models import PortalInvitation, PortalRequest, PortalRequestType
from sharing.services import portal as service

TAGS = ["patient-portal"]
LIST_DEFAULT_LIMIT = 50
LIST_MAX_LIMIT = 100
STATUS_FILTERS = ["open", "accepted", "dismissed", "all"]


# --- shapes ---------------------------------------------------------------------------------


class PortalInviteSerializer(FastSerializer):
    permission_level = LenientChoiceField(choices=ShareLevel.choices, default=ShareLevel.VIEW)
    email = serializers.EmailField(
        max_length=254,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Where to send the link (default: the patient's email address).",
    )


class PortalInviteSentSerializer(MessageSerializer):
    invitation_id = serializers.IntegerField()
    email = serializers.EmailField()
    permission_level = serializers.CharField()
    expires_at = serializers.DateTimeField()
    account_exists = serializers.BooleanField()


class PortalInvitationPreviewSerializer(FastSerializer):
    patient_name = serializers.CharField(help_text="First name and last initial.")
    email = serializers.EmailField()
    permission_level = serializers.CharField()
    expires_at = serializers.DateTimeField()
    account_exists = serializers.BooleanField()


def invitation_preview(invitation: PortalInvitation) -> dict:
    patient = invitation.patient
    initial = f" {patient.last_name[:1]}." if patient.last_name else ""
    return {
        "patient_name": f"{patient.first_name}{initial}",
        "email": invitation.email,
        "permission_level": invitation.permission_level,
        "expires_at": invitation.expires_at,
        "account_exists": service.account_exists(invitation.email),
    }


class PortalTokenSerializer(FastSerializer):
    token = serializers.CharField(max_length=500, help_text="The token of the emailed link.")


class PortalAcceptSerializer(PortalTokenSerializer):
    username = serializers.CharField(
        max_length=50,
        required=False,
        validators=[validate_username],
        help_text="Without a sign-in: the new account's user name.",
    )
    password = serializers.CharField(
        max_length=128,
        required=False,
        trim_whitespace=False,
        write_only=True,
        help_text="Without a sign-in: the new account's password.",
    )
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class PortalAcceptedSerializer(MessageSerializer):
    patient_id = serializers.IntegerField()
    permission_level = serializers.CharField()
    user_id = serializers.IntegerField()
    access_token = serializers.CharField(required=False, help_text="New accounts only.")
    refresh_token = serializers.CharField(required=False, help_text="New accounts only.")
    token_type = serializers.CharField(required=False)
    expires_in = serializers.IntegerField(required=False)
    session_timeout_minutes = serializers.IntegerField(required=False)
    must_change_password = serializers.BooleanField(required=False)


class QuestionnaireRequestSerializer(FastSerializer):
    title = serializers.CharField(max_length=200)
    answers = serializers.JSONField(help_text="An object or a list of answers.")
    notes = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    def validate_answers(self, value):
        if not isinstance(value, dict | list) or not value:
            raise serializers.ValidationError("Give the answers as an object or a list.")
        return value


RX_KINDS = {
    "refill": PortalRequestType.RX_REFILL,
    "rx_refill": PortalRequestType.RX_REFILL,
    "new": PortalRequestType.RX_NEW,
    "rx_new": PortalRequestType.RX_NEW,
}


class RxRequestSerializer(FastSerializer):
    """A refill ({medication_id} or just {medication_name}) or a new medication
    ({medication_name}); everything else is optional, since a patient asking may not know the
    dosage or frequency. `request_type` (refill|new) says which, else medication_id decides."""

    request_type = serializers.CharField(required=False, help_text="refill or new.")
    medication_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    medication_name = serializers.CharField(
        min_length=2, max_length=100, required=False, allow_null=True
    )
    dosage = serializers.CharField(max_length=50, required=False, allow_blank=True, allow_null=True)
    frequency = serializers.CharField(
        max_length=50, required=False, allow_blank=True, allow_null=True
    )
    route = LenientChoiceField(
        choices=MedicationRoute.choices, required=False, allow_blank=True, allow_null=True
    )
    quantity = serializers.IntegerField(
        min_value=1, max_value=10000, required=False, allow_null=True
    )
    pharmacy_id = serializers.PrimaryKeyRelatedField(
        queryset=Pharmacy.objects.all(), required=False, allow_null=True
    )
    notes = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, allow_null=True
    )

    def validate(self, attrs):
        named = attrs.pop("request_type", None)
        if named is None:
            kind = RX_KINDS["refill" if attrs.get("medication_id") else "new"]
        elif named.strip().lower() in RX_KINDS:
            kind = RX_KINDS[named.strip().lower()]
        else:
            raise serializers.ValidationError({"request_type": ["Say refill or new."]})
        if not attrs.get("medication_name") and not (
            kind == PortalRequestType.RX_REFILL and attrs.get("medication_id")
        ):
            raise serializers.ValidationError({"medication_name": ["This field is required."]})
        pharmacy = attrs.pop("pharmacy_id", None)
        payload = {
            "pharmacy_id": pharmacy.pk if pharmacy else None,
            "quantity": attrs.get("quantity"),
            "notes": attrs.get("notes") or "",
            "medication_name": attrs.get("medication_name") or "",
            "dosage": attrs.get("dosage") or "",
        }
        if kind == PortalRequestType.RX_REFILL:
            payload["medication_id"] = attrs.get("medication_id")
        else:
            payload.update(frequency=attrs.get("frequency") or "", route=attrs.get("route") or "")
        return {"request_type": kind, "payload": payload}


class PortalUserSerializer(FastSerializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.full_name or user.username


class PortalRequestSerializer(FastModelSerializer):
    patient_id = serializers.IntegerField(read_only=True)
    payload = serializers.SerializerMethodField()
    submitted_by = PortalUserSerializer(read_only=True, allow_null=True)
    resolved_by = PortalUserSerializer(read_only=True, allow_null=True)
    medication_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = PortalRequest
        fields = [
            "id",
            "patient_id",
            "request_type",
            "status",
            "payload",
            "submitted_by",
            "created_at",
            "resolved_by",
            "resolved_at",
            "resolution_note",
            "medication_id",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_payload(self, request) -> dict:
        return request.payload


class ResolveSerializer(FastSerializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, allow_null=True)


class EnqueuedQuerySerializer(FastSerializer):
    request_type = serializers.ChoiceField(choices=PortalRequestType.choices, required=False)
    status = serializers.ChoiceField(choices=STATUS_FILTERS, required=False, default="open")


def _request_body(request: PortalRequest, **kwargs) -> Response:
    return Response(PortalRequestSerializer(request).data, **kwargs)


# --- invitations ----------------------------------------------------------------------------


class PortalInviteView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        request=PortalInviteSerializer,
        responses=PortalInviteSentSerializer,
        operation_id="patients_portal_invite",
    )
    def post(self, request, patient_id: int):
        """Emails the patient (or `email`) a link to join the patient portal and get access at
        `permission_level` (default view). The owner or a FULL share may invite (a FULL share
        up to edit); a new invitation replaces the patient's pending ones."""
        serializer = PortalInviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = service.portal_invite(
            inviter=request.user,
            patient_id=patient_id,
            permission_level=serializer.validated_data["permission_level"],
            email=serializer.validated_data.get("email") or "",
        )
        return Response(
            {
                "message": f"Portal invitation sent to {invitation.email}",
                "invitation_id": invitation.pk,
                "email": invitation.email,
                "permission_level": invitation.permission_level,
                "expires_at": serializers.DateTimeField().to_representation(invitation.expires_at),
                "account_exists": service.account_exists(invitation.email),
            }
        )


class PortalInvitationView(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=TAGS,
        parameters=[PortalTokenSerializer],
        responses=PortalInvitationPreviewSerializer,
    )
    def get(self, request):
        """What a portal link offers, for its holder (no sign-in): the patient, the level,
        until when, and whether its address has an account already. A dead link is a 400."""
        params = PortalTokenSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        invitation = service.invitation_for_token(params.validated_data["token"])
        return Response(PortalInvitationPreviewSerializer(invitation_preview(invitation)).data)


class PortalAcceptView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {
        409: "An account with the invited email address already exists: sign in first."
    }
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    @extend_schema(
        tags=TAGS,
        request=PortalAcceptSerializer,
        responses={200: PortalAcceptedSerializer, 201: PortalAcceptedSerializer},
    )
    def post(self, request):
        """Accepts a portal invitation. Signed in: {token}, for an account with the invited
        email address (200). Not signed in: {token, username, password, full_name?} creates
        the account with the invited address and signs it in (201); an address that has an
        account already is a 409: sign in (or reset the password) and accept again."""
        serializer = PortalAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if request.user.is_authenticated:
            invitation = service.portal_accept(token=data["token"], user=request.user)
            return Response(self._accepted(invitation, request.user))
        missing = {
            f: ["This field is required."] for f in ("username", "password") if f not in data
        }
        if missing:
            raise serializers.ValidationError(missing)
        invitation, user = service.portal_join(
            token=data["token"],
            username=data["username"],
            password=data["password"],
            full_name=data.get("full_name") or "",
        )
        accounts.user_login(user=user)
        issued = tokens.issue_tokens(user)
        body = {**self._accepted(invitation, user), **tokens.token_body(issued, user)}
        response = Response(body, status=status.HTTP_201_CREATED)
        tokens.set_session_cookie(response, issued)  # signed in as after a login
        return response

    @staticmethod
    def _accepted(invitation: PortalInvitation, user) -> dict:
        return {
            "message": "Portal invitation accepted",
            "patient_id": invitation.patient_id,
            "permission_level": invitation.permission_level,
            "user_id": user.pk,
        }


# --- requests -------------------------------------------------------------------------------


class QuestionnaireView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        request=QuestionnaireRequestSerializer,
        responses={201: PortalRequestSerializer},
    )
    def post(self, request, patient_id: int):
        """Files a completed questionnaire for the patient's managers (any access level)."""
        serializer = QuestionnaireRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        filed = service.portal_request_submit(
            user=request.user,
            patient_id=patient_id,
            request_type=PortalRequestType.QUESTIONNAIRE,
            payload={"notes": "", **serializer.validated_data},
        )
        return _request_body(filed, status=status.HTTP_201_CREATED)


class RxRequestView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, request=RxRequestSerializer, responses={201: PortalRequestSerializer})
    def post(self, request, patient_id: int):
        """Asks the patient's managers for a refill of one of the patient's medications
        ({medication_id}, or its {medication_name}) or for a new medication
        ({medication_name}; dosage, frequency and the rest optional). Any access level may ask."""
        serializer = RxRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        filed = service.portal_request_submit(
            user=request.user, patient_id=patient_id, **serializer.validated_data
        )
        return _request_body(filed, status=status.HTTP_201_CREATED)


class EnqueuedListView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        parameters=[
            EnqueuedQuerySerializer,
            OpenApiParameter("skip", OpenApiTypes.INT, description="Items to skip."),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=f"Items (default {LIST_DEFAULT_LIMIT}, at most {LIST_MAX_LIMIT}).",
            ),
        ],
        responses=PortalRequestSerializer(many=True),
    )
    def get(self, request, patient_id: int):
        """The patient's portal requests, newest first: open ones unless `status` says
        otherwise ("all": every one not deleted). For the owner and EDIT or FULL shares."""
        params = EnqueuedQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        skip, limit = skip_limit(
            request, default_limit=LIST_DEFAULT_LIMIT, max_limit=LIST_MAX_LIMIT
        )
        queue = service.portal_requests_for_managers(
            request.user,
            patient_id,
            request_type=params.validated_data.get("request_type"),
            status=params.validated_data["status"],
        )
        return Response(PortalRequestSerializer(queue[skip : skip + limit], many=True).data)


class EnqueuedDetailView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=MessageSerializer)
    def delete(self, request, patient_id: int, request_id: int):
        """Removes a request from the queue. Soft: it stays stored, with when and by whom."""
        service.portal_request_delete(
            user=request.user, patient_id=patient_id, request_id=request_id
        )
        return Response({"message": "Portal request deleted successfully"})


class EnqueuedAcceptView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, request=ResolveSerializer, responses=PortalRequestSerializer)
    def post(self, request, patient_id: int, request_id: int):
        """Accepts an open request: a new-medication request creates the medication, a refill
        is recorded against its medication, a questionnaire is filed as accepted."""
        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        accepted = service.portal_request_accept(
            user=request.user,
            patient_id=patient_id,
            request_id=request_id,
            note=serializer.validated_data.get("note") or "",
            ip_address=client_ip(request),
        )
        return _request_body(accepted)


class EnqueuedDismissView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, request=ResolveSerializer, responses=PortalRequestSerializer)
    def post(self, request, patient_id: int, request_id: int):
        """Dismisses an open request without acting on it."""
        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dismissed = service.portal_request_dismiss(
            user=request.user,
            patient_id=patient_id,
            request_id=request_id,
            note=serializer.validated_data.get("note") or "",
        )
        return _request_body(dismissed)


urlpatterns = [
    path("patients/<int:patient_id>/portal/invite", PortalInviteView.as_view()),
    path("patients/<int:patient_id>/portal/enqueued", EnqueuedListView.as_view()),
    path(
        "patients/<int:patient_id>/portal/enqueued/<int:request_id>",
        EnqueuedDetailView.as_view(),
    ),
    path(
        "patients/<int:patient_id>/portal/enqueued/<int:request_id>/accept",
        EnqueuedAcceptView.as_view(),
    ),
    path(
        "patients/<int:patient_id>/portal/enqueued/<int:request_id>/dismiss",
        EnqueuedDismissView.as_view(),
    ),
    path("patients/<int:patient_id>/questionnaires", QuestionnaireView.as_view()),
    path("patients/<int:patient_id>/rxs", RxRequestView.as_view()),
    path("portal/invitation", PortalInvitationView.as_view()),
    path("portal/accept", PortalAcceptView.as_view()),
]
