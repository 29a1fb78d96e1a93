"""/patients/{patient_id}/photo: upload (FULL), stream and metadata (VIEW), delete (owner)."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from medikeep.api.parsers import SafeFormParser, SafeMultiPartParser
from medikeep.api.views import ApiView
from patients import photos, services
from patients.access import Level, is_owner, require_patient_access
from patients.api import serializers as s
from patients.api.views import null_response
from patients.models import Patient, PatientPhoto

TAGS = ["patients"]
NO_PHOTO = "This patient has no photo."
OWNER_ONLY = "Only the patient owner can delete the photo."


def _photo_of(patient_id: int) -> PatientPhoto:
    photo = PatientPhoto.objects.filter(patient_id=patient_id).first()
    if photo is None:
        raise NotFound(NO_PHOTO)
    return photo


class PatientPhotoView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {409: "Another photo was uploaded at the same moment; try again."}
    parser_classes = [SafeMultiPartParser, SafeFormParser]

    def get_throttles(self):
        # Uploads count against the upload budget; looking at photos does not.
        self.throttle_scope = "upload" if self.request.method == "POST" else "standard"
        return super().get_throttles()

    def perform_content_negotiation(self, request, force=False):
        # <img> tags and image clients ask for image/*; errors are still rendered as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The photo (JPEG)."
            )
        },
        tags=TAGS,
    )
    def get(self, request, patient_id):
        """The photo itself, streamed; needs VIEW."""
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        photo = _photo_of(patient_id)
        try:
            handle = photo.file.open("rb")
        except OSError as exc:
            raise NotFound("The photo file is missing.") from exc
        response = FileResponse(
            handle, content_type="image/jpeg", filename=photo.filename, as_attachment=False
        )
        return response

    @extend_schema(
        request={"multipart/form-data": s.PhotoUploadSerializer},
        responses={201: s.PhotoSerializer},
        tags=TAGS,
    )
    def post(self, request, patient_id):
        """Uploads (or replaces) the photo; needs FULL. Stored as a JPEG of at most 1000x1000."""
        patient_id = require_patient_access(request.user, patient_id, Level.FULL)
        photos.check_request_size(request)
        serializer = s.PhotoUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        photo = services.patient_photo_save(
            patient=Patient.objects.get(pk=patient_id),
            upload=serializer.validated_data["file"],
            uploaded_by=request.user,
        )
        return Response(s.PhotoSerializer(photo).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request, patient_id):
        """Deletes the photo; owner only."""
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        photo = _photo_of(patient_id)
        if not is_owner(request.user, photo.patient):
            raise PermissionDenied(OWNER_ONLY)
        services.patient_photo_delete(photo=photo)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PatientPhotoInfoView(ApiView):
    @extend_schema(
        responses=OpenApiResponse(
            s.PhotoInfoSerializer, description="The photo's metadata, or null without a photo."
        ),
        tags=TAGS,
    )
    def get(self, request, patient_id):
        """The photo's metadata without the file, or null when there is none; needs VIEW."""
        patient_id = require_patient_access(request.user, patient_id, Level.VIEW)
        photo = PatientPhoto.objects.filter(patient_id=patient_id).first()
        # The web app asks this of every patient it lists: "no photo" is an answer, not an error.
        if photo is None:
            return null_response()
        return Response(s.PhotoInfoSerializer(photo).data)
