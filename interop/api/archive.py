"""GET / POST /users/me/archive: the caller's whole account as one zip, and reading one back.

Only the caller's own account: there is no patient id to check, the archive holds what the
caller owns (interop/archive/). Both directions are heavy, so they share the upload rate
limit.
"""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from files import uploads
from interop.archive.export import archive_file, archive_name
from interop.archive.importer import import_archive, open_archive
from medikeep.api.parsers import SafeMultiPartParser
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView

TAGS = ["users"]
# How much larger than the upload limit an uploaded archive may unpack to: files barely
# compress, JSON does; a zip bomb does not get through.
EXPANSION = 4


class ArchiveImportUserSerializer(FastSerializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class ArchiveImportResultSerializer(FastSerializer):
    user = ArchiveImportUserSerializer()
    created_account = serializers.BooleanField()
    source = serializers.DictField(help_text="The server the archive came from.")
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows imported per table."
    )
    channels_needing_settings = serializers.ListField(
        child=serializers.CharField(),
        help_text="Notification channels imported switched off: enter their settings again.",
    )
    not_carried = serializers.ListField(
        child=serializers.DictField(), help_text="Files the archive could not carry, and why."
    )
    notes = serializers.ListField(child=serializers.CharField())


class ArchiveUploadSerializer(FastSerializer):
    file = serializers.FileField(help_text="A zip made by GET /users/me/archive or export_account.")


class AccountArchiveView(ApiView):
    permission_classes = [IsAuthenticated]
    parser_classes = [SafeMultiPartParser]
    documented_errors = {409: "This archive has already been imported into this account."}

    def get_throttles(self):
        self.throttle_scope = "upload"
        return super().get_throttles()

    def perform_content_negotiation(self, request, force=False):
        # The zip is not negotiated; errors are still answered in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="Download your whole account as an archive",
        description="A zip of everything you own: your patients with every record, the "
        "links between records, files and photos, the directory entries your records name, "
        "your tags, your notification channels (without their secret settings) and your "
        "preferences (without document back-end credentials). `manifest.json` lists every "
        "member with its SHA-256. Patients others share with you are not included, nor are "
        "your shares to others. Rate-limited like uploads.",
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The archive, as an attachment."
            )
        },
        tags=TAGS,
    )
    def get(self, request):
        spool, size, _ = archive_file(request.user)
        response = FileResponse(
            spool,
            as_attachment=True,
            filename=archive_name(request.user),
            content_type="application/zip",
        )
        response["Content-Length"] = str(size)
        return response

    @extend_schema(
        summary="Import an account archive into your account",
        description="Send `multipart/form-data` with the archive as `file`. Every member's "
        "checksum is verified first: a damaged or changed archive is refused (422) and "
        "nothing is written. Then everything is imported at once, as new patients of yours "
        "(ids are new; the old ones are kept as identifiers). Notification channels arrive "
        "switched off until you enter their settings again. The same archive imported twice "
        "is refused (409). Larger than the upload limit: 413. Rate-limited like uploads.",
        request={"multipart/form-data": ArchiveUploadSerializer},
        responses={200: ArchiveImportResultSerializer},
        tags=TAGS,
    )
    def post(self, request):
        uploads.prepare_request(request)
        upload = uploads.received_upload(request)
        with upload:
            archive = open_archive(upload, max_expanded=EXPANSION * settings.FILES_MAX_UPLOAD_BYTES)
            try:
                result = import_archive(archive, user=request.user)
            finally:
                archive.zf.close()
        return Response(ArchiveImportResultSerializer(result).data)
