"""Single sign-on endpoints (base /api/v1/auth/sso): config, initiate, callback,
resolve-conflict, resolve-github-link, test-connection, and the signed-in user's links.

Every successful sign-in ends in services.sign_in_response, as password login does, with the
user and `is_new_user` added."""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from medikeep.accounts import services
from medikeep.accounts.api.serializers import SSOConfigSerializer
from medikeep.accounts.choices import UserAuthMethod, UserSSOLinkingPreference
from medikeep.accounts.selectors import sso_config
from medikeep.accounts.sso import accounts, flow
from medikeep.accounts.sso.connection import test_connection
from medikeep.api.origin import refuse_foreign_origin
from medikeep.api.permissions import IsAdmin
from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.serializers import MessageSerializer
from medikeep.api.views import ApiView


class SSOInitiateResponseSerializer(FastSerializer):
    authorization_url = serializers.CharField()
    auth_url = serializers.CharField(help_text="The same URL: the web app reads this name.")
    state = serializers.CharField()
    provider = serializers.CharField()


class SSOCallbackSerializer(FastSerializer):
    code = serializers.CharField(max_length=2048)
    state = serializers.CharField(max_length=200)


class SSOUserSerializer(FastSerializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    full_name = serializers.CharField()
    role = serializers.CharField()
    auth_method = serializers.CharField()


class SSOSignInResponseSerializer(FastSerializer):
    access_token = serializers.CharField(required=False)
    token_type = serializers.CharField(required=False)
    session_timeout_minutes = serializers.IntegerField(required=False)
    expires_in = serializers.IntegerField(required=False)
    must_change_password = serializers.BooleanField(required=False)
    refresh_token = serializers.CharField(required=False)
    user = SSOUserSerializer(required=False)
    is_new_user = serializers.BooleanField(required=False)
    return_url = serializers.CharField(required=False, allow_null=True)
    conflict = serializers.BooleanField(
        required=False, help_text="An account already uses the provider's email."
    )
    github_manual_link = serializers.BooleanField(
        required=False, help_text="GitHub shares no verified email: link with a password."
    )
    temp_token = serializers.CharField(required=False)
    existing_email = serializers.CharField(required=False)
    sso_provider = serializers.CharField(required=False)
    existing_user_info = serializers.DictField(required=False)
    sso_user_info = serializers.DictField(required=False)
    github_user_info = serializers.DictField(required=False)


class SSOResolveConflictSerializer(FastSerializer):
    temp_token = serializers.CharField(max_length=200)
    action = serializers.ChoiceField(choices=["link", "create_separate"])
    preference = serializers.ChoiceField(
        choices=UserSSOLinkingPreference.choices, required=False, allow_null=True
    )
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        help_text="create_separate: the new account's email (the provider's belongs to the "
        "existing account); empty: none yet.",
    )


class SSOGitHubLinkSerializer(FastSerializer):
    temp_token = serializers.CharField(max_length=200)
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class SSOTestConnectionSerializer(FastSerializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    checks = serializers.ListField(child=serializers.DictField())


class SSOLinkSerializer(FastModelSerializer):
    email = serializers.SerializerMethodField()

    class Meta:
        model = SocialAccount
        fields = ["id", "provider", "uid", "email", "date_joined", "last_login"]

    def get_email(self, link) -> str | None:
        data = link.extra_data or {}
        for source in (data.get("userinfo"), data.get("id_token"), data):
            if isinstance(source, dict) and source.get("email"):
                return source["email"]
        return None


def user_summary(user) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "auth_method": user.auth_method,
    }


def finish(request, sign_in: accounts.SignIn):
    user = sign_in.user
    if user.auth_method == UserAuthMethod.SSO and user.must_change_password:
        # An account without a password has none to change.
        user.must_change_password = False
        user.save(update_fields=["must_change_password", "updated_at"])
    return services.sign_in_response(
        request,
        user,
        extra={
            "user": user_summary(user),
            "is_new_user": sign_in.is_new_user,
            "return_url": sign_in.return_url or None,
        },
    )


class SSOConfigView(ApiView):
    """Whether SSO is offered, by which provider, and whether new accounts may register."""

    permission_classes = [AllowAny]
    # No authentication at all: a stale cookie on the login page must not turn this into a 401.
    authentication_classes: list = []

    @extend_schema(responses=SSOConfigSerializer, tags=["auth"])
    def get(self, request):
        return Response(SSOConfigSerializer(sso_config()).data)


class _PublicSSOView(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"


class SSOInitiateView(_PublicSSOView):
    """Starts a sign-in: the provider's authorization URL with state, nonce and PKCE (S256)."""

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("return_url", str, description="A path of the web app.")],
        responses=SSOInitiateResponseSerializer,
        tags=["auth"],
    )
    def post(self, request):
        url, state = flow.initiate(request, return_url=request.query_params.get("return_url"))
        return Response(
            {
                "authorization_url": url,
                "auth_url": url,
                "state": state,
                "provider": flow.current().provider_type,
            }
        )


class SSOCallbackView(_PublicSSOView):
    """Finishes a sign-in with the code and state the provider gave the web app."""

    @extend_schema(
        request=SSOCallbackSerializer, responses=SSOSignInResponseSerializer, tags=["auth"]
    )
    def post(self, request):
        # A foreign page must not sign the browser in to an identity of its choosing.
        refuse_foreign_origin(request)
        serializer = SSOCallbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identity = flow.complete(request, **serializer.validated_data)
        outcome = accounts.resolve(identity)
        if isinstance(outcome, dict):
            return Response(outcome)
        return finish(request, outcome)


class SSOResolveConflictView(_PublicSSOView):
    """The answer to a conflict: link to the existing account or create a separate one."""

    @extend_schema(
        request=SSOResolveConflictSerializer,
        responses=SSOSignInResponseSerializer,
        tags=["auth"],
    )
    def post(self, request):
        refuse_foreign_origin(request)
        serializer = SSOResolveConflictSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        sign_in = accounts.resolve_conflict(
            temp_token=data["temp_token"],
            action=data["action"],
            preference=data.get("preference"),
            email=data.get("email", ""),
        )
        return finish(request, sign_in)


class SSOResolveGitHubLinkView(_PublicSSOView):
    """Links a GitHub identity without a verified email to an account, by its password."""

    @extend_schema(
        request=SSOGitHubLinkSerializer, responses=SSOSignInResponseSerializer, tags=["auth"]
    )
    def post(self, request):
        refuse_foreign_origin(request)
        serializer = SSOGitHubLinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return finish(request, accounts.resolve_github_link(request, **serializer.validated_data))


class SSOTestConnectionView(ApiView):
    """Admins: are the provider's discovery document and keys (or API) reachable?"""

    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(request=None, responses=SSOTestConnectionSerializer, tags=["auth"])
    def post(self, request):
        return Response(test_connection(flow.current()).as_dict())


class SSOLinkListView(ApiView):
    """The signed-in user's linked identities."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=SSOLinkSerializer(many=True), tags=["auth"])
    def get(self, request):
        return Response(SSOLinkSerializer(accounts.links_of(request.user), many=True).data)


class SSOLinkDetailView(ApiView):
    """Removes one link (never the only way in of an account without a password)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=MessageSerializer, tags=["auth"])
    def delete(self, request, link_id: int):
        accounts.link_remove(user=request.user, link_id=link_id)
        return Response({"message": "The linked identity was removed."})
