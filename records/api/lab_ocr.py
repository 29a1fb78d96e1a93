"""POST /lab-results/{id}/ocr-parse, mixed into the lab-result viewset: the text of an
uploaded lab report PDF for the client to parse. Nothing is saved; the work is in
records/services/lab_pdf.py."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from medikeep.api.exceptions import BusinessRuleError, FieldValidationError, PayloadTooLarge
from medikeep.api.representation import FastSerializer
from records.services.lab_pdf import MAX_PDF_BYTES, NoTextLayer, PdfRefused, extract_text


class PdfUploadSerializer(FastSerializer):
    file = serializers.FileField(help_text="The lab report (PDF with a text layer, ≤ 15 MB).")


class PdfMetadataSerializer(FastSerializer):
    method = serializers.CharField(help_text='"native": the PDF\'s own text layer (no OCR).')
    confidence = serializers.FloatField()
    page_count = serializers.IntegerField()
    char_count = serializers.IntegerField()
    filename = serializers.CharField()
    lab_name = serializers.CharField(allow_null=True)
    test_count = serializers.IntegerField(allow_null=True)
    test_date = serializers.DateField(
        allow_null=True, help_text="The collection date the report names, when found."
    )


class PdfParseSerializer(FastSerializer):
    status = serializers.CharField()
    extracted_text = serializers.CharField()
    metadata = PdfMetadataSerializer()
    error = serializers.CharField(allow_null=True)


class LabPdfMixin:
    throttle_scope: str | None = None  # "standard"; the upload uses "upload"

    @extend_schema(
        request={"multipart/form-data": PdfUploadSerializer},
        responses=PdfParseSerializer,
    )
    @action(detail=True, methods=["post"], url_path="ocr-parse", throttle_scope="upload")
    def ocr_parse(self, request, pk=None):
        """The text of a lab report PDF, for the client to parse; nothing is saved. Needs
        read access to the lab result. Non-PDFs and damaged or password-protected PDFs are
        a 400, more than 15 MB a 413, a PDF without a text layer (a scan) a 422."""
        # Read access is enough (nothing is written): the object permission, which wants
        # EDIT for a POST, is not asked; the queryset still hides others' lab results (404).
        get_object_or_404(self.get_queryset(), pk=pk)
        upload = PdfUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        if file.size > MAX_PDF_BYTES:
            raise PayloadTooLarge("The PDF is larger than 15 MB.")
        try:
            found = extract_text(file.read())
        except PdfRefused as exc:
            raise BusinessRuleError(str(exc)) from exc
        except NoTextLayer as exc:
            raise FieldValidationError("file", str(exc)) from exc
        body = {
            "status": "success",
            "extracted_text": found.text,
            "metadata": {
                "method": "native",
                "confidence": 1.0,
                "page_count": found.page_count,
                "char_count": len(found.text),
                "filename": file.name,
                "lab_name": None,
                "test_count": None,
                "test_date": found.test_date,
            },
            "error": None,
        }
        return Response(PdfParseSerializer(body).data)
