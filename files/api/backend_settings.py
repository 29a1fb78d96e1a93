"""/paperless/settings, /papra/settings, their test-connection calls and /paperless/storage-stats.

Everything here is the signed-in user's own: settings on their preferences, stats of the files
they uploaded. Secrets are taken in and never answered (files/backends/user_settings.py has the
rules). Back-end failures are the interface's errors: unreachable 502, slow 504; a refused
token is an answer ({status: "failed", message}), not an error status — and never a 401, which
the web app reads as the end of its own session.
"""

from __future__ import annotations

from django.db.models import Count, Sum
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from files.backends import BackendAuthFailed, BackendNotConfigured, client_for_preference
from files.backends import user_settings as backend_settings
from files.models import EntityFile, StorageBackend
from medikeep.accounts.choices import DocumentBackend
from medikeep.accounts.selectors import preference_of
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView

TAGS = ["document-backends"]


def _secret_field(max_length: int) -> serializers.CharField:
    # Empty, null and masked values mean "keep the saved one"; nothing is trimmed away from a
    # password except by the service, which strips only surrounding blanks.
    return serializers.CharField(
        max_length=max_length,
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        write_only=True,
    )


def _url_field() -> serializers.CharField:
    return serializers.CharField(max_length=500, required=False, allow_blank=True, allow_null=True)


class BackendSettingsSerializer(FastSerializer):
    """The back-end keys of the preferences, as GET and PUT answer them."""

    paperless_enabled = serializers.BooleanField()
    paperless_url = serializers.CharField()
    paperless_has_token = serializers.BooleanField()
    paperless_has_credentials = serializers.BooleanField()
    paperless_auto_sync = serializers.BooleanField()
    paperless_sync_tags = serializers.BooleanField()
    default_storage_backend = serializers.ChoiceField(choices=DocumentBackend.choices)
    papra_enabled = serializers.BooleanField()
    papra_url = serializers.CharField()
    papra_has_token = serializers.BooleanField()
    papra_organization_id = serializers.CharField(allow_null=True)


class PaperlessSettingsUpdateSerializer(FastSerializer):
    paperless_enabled = serializers.BooleanField(required=False)
    paperless_url = _url_field()
    paperless_api_token = _secret_field(1000)
    paperless_username = _secret_field(255)
    paperless_password = _secret_field(1024)
    default_storage_backend = serializers.ChoiceField(
        choices=DocumentBackend.choices, required=False
    )
    paperless_auto_sync = serializers.BooleanField(required=False)
    paperless_sync_tags = serializers.BooleanField(required=False)


class PapraSettingsUpdateSerializer(FastSerializer):
    papra_enabled = serializers.BooleanField(required=False)
    papra_url = _url_field()
    papra_api_token = _secret_field(1000)
    papra_organization_id = serializers.CharField(
        max_length=255, required=False, allow_blank=True, allow_null=True
    )
    default_storage_backend = serializers.ChoiceField(
        choices=DocumentBackend.choices, required=False
    )


class PaperlessConnectionSerializer(FastSerializer):
    paperless_url = _url_field()
    paperless_api_token = _secret_field(1000)
    paperless_username = _secret_field(255)
    paperless_password = _secret_field(1024)


class PapraConnectionSerializer(FastSerializer):
    papra_url = _url_field()
    papra_api_token = _secret_field(1000)


class PaperlessConnectionResultSerializer(FastSerializer):
    status = serializers.ChoiceField(choices=["connected", "failed"])
    message = serializers.CharField()
    auth_method = serializers.ChoiceField(choices=["token", "basic"])
    version = serializers.CharField(allow_null=True)


class ReachedOrganizationSerializer(FastSerializer):
    id = serializers.CharField()
    name = serializers.CharField()


class PapraConnectionResultSerializer(FastSerializer):
    status = serializers.ChoiceField(choices=["success", "failed"])
    organizations = ReachedOrganizationSerializer(many=True)
    message = serializers.CharField()
    version = serializers.CharField(allow_null=True)


class BackendUsageSerializer(FastSerializer):
    count = serializers.IntegerField()
    size = serializers.IntegerField(help_text="Bytes.")


class StorageStatsSerializer(FastSerializer):
    local = BackendUsageSerializer()
    paperless = BackendUsageSerializer()
    papra = BackendUsageSerializer()


def _settings_answer(user) -> Response:
    return Response(backend_settings.public_settings(preference_of(user)))


class PaperlessSettingsView(ApiView):
    @extend_schema(
        summary="Your document back-end settings",
        responses=BackendSettingsSerializer,
        tags=TAGS,
    )
    def get(self, request):
        """The caller's document back-end settings (secrets only as has_token flags)."""
        return _settings_answer(request.user)

    @extend_schema(
        summary="Change your Paperless-ngx settings",
        request=PaperlessSettingsUpdateSerializer,
        responses=BackendSettingsSerializer,
        tags=TAGS,
    )
    def put(self, request):
        """Changes the keys sent; empty or masked secrets keep the saved ones."""
        form = PaperlessSettingsUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        backend_settings.update_paperless_settings(user=request.user, changes=form.validated_data)
        return _settings_answer(request.user)

    @extend_schema(
        summary="Forget your Paperless-ngx settings",
        request=None,
        responses=BackendSettingsSerializer,
        tags=TAGS,
    )
    def delete(self, request):
        """Forgets the Paperless-ngx URL and secrets and switches it off."""
        backend_settings.forget_paperless_settings(user=request.user)
        return _settings_answer(request.user)


class PapraSettingsView(ApiView):
    @extend_schema(
        summary="Your document back-end settings",
        description="The caller's document back-end settings, Papra's among them (the API "
        "key only as a has_token flag); the same answer as GET /paperless/settings.",
        responses=BackendSettingsSerializer,
        tags=TAGS,
    )
    def get(self, request):
        return _settings_answer(request.user)

    @extend_schema(
        summary="Change your Papra settings",
        request=PapraSettingsUpdateSerializer,
        responses=BackendSettingsSerializer,
        tags=TAGS,
    )
    def put(self, request):
        """Changes the keys sent; an empty or masked API key keeps the saved one."""
        form = PapraSettingsUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        backend_settings.update_papra_settings(user=request.user, changes=form.validated_data)
        return _settings_answer(request.user)


def _sent_secret(data: dict, key: str) -> str | None:
    return backend_settings.take_secret(data.get(key))


def _refused(exc: BackendNotConfigured | BackendAuthFailed) -> str:
    return str(exc.detail)


class PaperlessTestConnectionView(ApiView):
    @extend_schema(
        request=PaperlessConnectionSerializer,
        responses=PaperlessConnectionResultSerializer,
        tags=TAGS,
    )
    def post(self, request):
        """Tries the URL and token (or user name and password) sent, or the saved ones when
        they are empty. Unreachable → 502, too slow → 504, refused → status "failed"."""
        form = PaperlessConnectionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        url, secrets, _ = backend_settings.connection_secrets(
            request.user,
            backend_settings.PAPERLESS,
            url=data.get("paperless_url"),
            sent={
                "api_token": _sent_secret(data, "paperless_api_token"),
                "username": _sent_secret(data, "paperless_username"),
                "password": _sent_secret(data, "paperless_password"),
            },
        )
        auth_method = "token" if secrets.get("api_token") else "basic"
        if not (secrets.get("api_token") or (secrets.get("username") and secrets.get("password"))):
            return Response(
                {
                    "status": "failed",
                    "message": "Enter an API token, or a user name and password.",
                    "auth_method": auth_method,
                    "version": None,
                }
            )
        draft = backend_settings.draft_preference(
            request.user, backend_settings.PAPERLESS, url=url, secrets=secrets
        )
        try:
            result = client_for_preference(backend_settings.PAPERLESS, draft).test()
        except (BackendAuthFailed, BackendNotConfigured) as exc:
            return Response(
                {
                    "status": "failed",
                    "message": _refused(exc),
                    "auth_method": auth_method,
                    "version": None,
                }
            )
        version = result.get("version")
        return Response(
            {
                "status": "connected",
                "message": f"Connected to Paperless-ngx {version}."
                if version
                else "Connected to Paperless-ngx.",
                "auth_method": auth_method,
                "version": version,
            }
        )


class PapraTestConnectionView(ApiView):
    @extend_schema(
        request=PapraConnectionSerializer, responses=PapraConnectionResultSerializer, tags=TAGS
    )
    def post(self, request):
        """Tries the URL and API key sent (or the saved ones) and lists the organisations the
        key reaches. Unreachable → 502, too slow → 504, refused → status "failed"."""
        form = PapraConnectionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        url, secrets, preference = backend_settings.connection_secrets(
            request.user,
            backend_settings.PAPRA,
            url=data.get("papra_url"),
            sent={"api_token": _sent_secret(data, "papra_api_token")},
        )
        if not secrets.get("api_token"):
            return Response(
                {
                    "status": "failed",
                    "organizations": [],
                    "message": "Enter a Papra API key.",
                    "version": None,
                }
            )
        draft = backend_settings.draft_preference(
            request.user,
            backend_settings.PAPRA,
            url=url,
            secrets=secrets,
            organization_id=getattr(preference, "papra_organization_id", None),
        )
        try:
            result = client_for_preference(backend_settings.PAPRA, draft).test()
        except (BackendAuthFailed, BackendNotConfigured) as exc:
            return Response(
                {
                    "status": "failed",
                    "organizations": [],
                    "message": _refused(exc),
                    "version": None,
                }
            )
        organizations = [
            {"id": str(org.get("id")), "name": str(org.get("name") or org.get("id"))}
            for org in result.get("organizations") or []
            if isinstance(org, dict) and org.get("id")
        ]
        count = len(organizations)
        return Response(
            {
                "status": "success",
                "organizations": organizations,
                "message": f"Connected to Papra; the key reaches {count} organisation"
                + ("" if count == 1 else "s")
                + ".",
                "version": result.get("version"),
            }
        )


class StorageStatsView(ApiView):
    @extend_schema(responses=StorageStatsSerializer, tags=TAGS)
    def get(self, request):
        """Count and bytes of the caller's files (uploaded by them, not in the trash) per
        storage back-end, in one query."""
        rows = (
            EntityFile.objects.live()
            .filter(uploaded_by=request.user)
            .values("storage_backend")
            .annotate(count=Count("id"), size=Sum("file_size"))
            .order_by()
        )
        stats = {name: {"count": 0, "size": 0} for name in StorageBackend.values}
        for row in rows:
            stats[row["storage_backend"]] = {"count": row["count"], "size": row["size"] or 0}
        return Response(stats)
