"""/admin/user-management: the web app's account screens (401 anonymous, 403 for users).

- POST users/create               — a new account, with its own self-record or a patient
                                     handed over to it (adminops/user_management.py);
- GET  users/{id}/login-history   — the account's sign-ins;
- GET  patients/search            — patients to link, by name or id.

The web app calls the two GETs without a query string (web-client-api.md §16, "argument
bug"), so their defaults are a useful first page on their own.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from adminops import selectors
from adminops.api.dashboard import AdminView, utc_datetime
from adminops.user_management import NewUser, admin_user_create
from medikeep.accounts.choices import UserRole
from medikeep.accounts.models import User
from medikeep.api.representation import FastSerializer
from medikeep.middleware import client_ip

TAGS = ["admin-user-management"]
HISTORY_DEFAULT, HISTORY_MAX = 20, 100
SEARCH_DEFAULT, SEARCH_MAX = 200, 500
MAX_ID = 2**63 - 1


# --- serializers ----------------------------------------------------------------------------


class AdminCreateUserSerializer(FastSerializer):
    username = serializers.CharField(max_length=50)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    email = serializers.EmailField(max_length=254)
    full_name = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=200
    )
    first_name = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=100
    )
    last_name = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=100
    )
    role = serializers.ChoiceField(choices=UserRole.choices, required=False, default=UserRole.USER)
    link_patient_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="An existing patient (not a self-record) that becomes this account's own "
        "record; its owner keeps edit access. Without it the account gets a new self-record.",
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = dict(data)
            if data.get("link_patient_id") == "":
                data["link_patient_id"] = None  # the form's empty picker
            if isinstance(data.get("role"), str):
                data["role"] = data["role"].strip().lower()
        return super().to_internal_value(data)

    def new_user(self) -> NewUser:
        values = self.validated_data
        return NewUser(
            username=values["username"],
            email=values["email"],
            password=values["password"],
            role=values["role"],
            first_name=values.get("first_name") or "",
            last_name=values.get("last_name") or "",
            full_name=values.get("full_name") or "",
            link_patient_id=values.get("link_patient_id"),
        )


class UserTransferSerializer(FastSerializer):
    patient_id = serializers.IntegerField()
    previous_owner_id = serializers.IntegerField()
    previous_owner_username = serializers.CharField()
    previous_owner_share = serializers.CharField(help_text="The level the previous owner keeps.")
    other_shares_kept = serializers.IntegerField(
        help_text="People the patient was shared with who keep their access."
    )


class AdminCreatedUserDataSerializer(FastSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    role = serializers.CharField()
    patient_id = serializers.IntegerField(
        allow_null=True, help_text="The account's own record (new or linked)."
    )
    linked_patient_id = serializers.IntegerField(allow_null=True)
    transfer_details = UserTransferSerializer(allow_null=True)


class AdminCreatedUserSerializer(FastSerializer):
    status = serializers.ChoiceField(
        choices=["success", "partial_success"],
        help_text="Always success here: the account and the link are made together or not at "
        "all (partial_success is the web app's word for a half-done creation).",
    )
    message = serializers.CharField()
    data = AdminCreatedUserDataSerializer()


class LoginHistoryQuerySerializer(FastSerializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10**6)
    per_page = serializers.IntegerField(
        required=False, default=HISTORY_DEFAULT, min_value=1, max_value=HISTORY_MAX
    )


class LoginHistoryEntrySerializer(FastSerializer):
    timestamp = utc_datetime()
    description = serializers.CharField()
    ip_address = serializers.CharField(allow_null=True)


class LoginHistorySerializer(FastSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    last_login = utc_datetime(allow_null=True)
    items = LoginHistoryEntrySerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    per_page = serializers.IntegerField()


class LinkablePatientsQuerySerializer(FastSerializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Name words or an id."
    )
    limit = serializers.IntegerField(
        required=False, default=SEARCH_DEFAULT, min_value=1, max_value=SEARCH_MAX
    )


class LinkablePatientSerializer(FastSerializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField()
    is_self_record = serializers.BooleanField(
        help_text="A self-record cannot be linked to a new account."
    )
    owner_id = serializers.IntegerField()
    owner_username = serializers.CharField()
    owner_full_name = serializers.CharField()


class LinkablePatientsSerializer(FastSerializer):
    patients = LinkablePatientSerializer(many=True)
    total = serializers.IntegerField(help_text="All matches (patients lists at most `limit`).")


# --- views ----------------------------------------------------------------------------------


class CreateUserView(AdminView):
    """Creates an account with the chosen role (even while registration is off)."""

    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "The username or email is already used by another account."}

    @extend_schema(
        request=AdminCreateUserSerializer,
        responses={201: AdminCreatedUserSerializer},
        tags=TAGS,
        summary="Create a user",
    )
    def post(self, request):
        body = AdminCreateUserSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = admin_user_create(
            values=body.new_user(), actor=request.user, ip_address=client_ip(request)
        )
        user, patient = created.user, created.patient
        transfer = None
        message = f"User '{user.username}' created with their own new patient record."
        if created.transferred_from is not None:
            previous = created.transferred_from
            transfer = {
                "patient_id": patient.pk,
                "previous_owner_id": previous.pk,
                "previous_owner_username": previous.username,
                "previous_owner_share": "edit",
                "other_shares_kept": len(created.shares_kept),
            }
            message = (
                f"User '{user.username}' created and given patient {patient.pk}; "
                f"{previous.username} keeps edit access."
            )
        data = {
            "user_id": user.pk,
            "username": user.username,
            "email": user.email,
            "role": user.role,
            "patient_id": patient.pk if patient else None,
            "linked_patient_id": patient.pk if transfer else None,
            "transfer_details": transfer,
        }
        answer = {"status": "success", "message": message, "data": data}
        return Response(AdminCreatedUserSerializer(answer).data, status=status.HTTP_201_CREATED)


class LoginHistoryView(AdminView):
    """The account's sign-ins, newest first (every address it signed in from, and the
    activity log's login entries)."""

    @extend_schema(
        parameters=[LoginHistoryQuerySerializer],
        responses=LoginHistorySerializer,
        tags=TAGS,
        summary="A user's sign-in history",
    )
    def get(self, request, user_id: int):
        query = LoginHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        user = User.objects.filter(pk=user_id).first() if user_id <= MAX_ID else None
        if user is None:
            raise Http404("User not found.")
        history = selectors.login_history(
            user_id=user.pk,
            page=query.validated_data["page"],
            per_page=query.validated_data["per_page"],
        )
        body = {
            "user_id": user.pk,
            "username": user.username,
            "last_login": user.last_login,
            **history,
        }
        return Response(LoginHistorySerializer(body).data)


class PatientSearchView(AdminView):
    """Patients by name words or id, with their owners; the first `limit` by name without q."""

    @extend_schema(
        parameters=[LinkablePatientsQuerySerializer],
        responses=LinkablePatientsSerializer,
        tags=TAGS,
        summary="Search patients to link to an account",
    )
    def get(self, request):
        query = LinkablePatientsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = selectors.patient_search(
            query=query.validated_data.get("q", ""), limit=query.validated_data["limit"]
        )
        return Response(LinkablePatientsSerializer(body).data)


urlpatterns = [
    path(
        "admin/user-management/users/create",
        CreateUserView.as_view(),
        name="admin-user-management-create",
    ),
    path(
        "admin/user-management/users/<int:user_id>/login-history",
        LoginHistoryView.as_view(),
        name="admin-user-management-login-history",
    ),
    path(
        "admin/user-management/patients/search",
        PatientSearchView.as_view(),
        name="admin-user-management-patient-search",
    ),
]
