from __future__ import annotations

from rest_framework import serializers

from files.models import EntityFile
from files.uploads import clean_file_name, extension_of
from medikeep.api.representation import FastModelSerializer, FastSerializer

MAX_ID = 2**63 - 1


class EntityFileSerializer(FastModelSerializer):
    patient_id = serializers.IntegerField(read_only=True, allow_null=True)
    # The storage key: names the bytes inside this server's storage, never a public URL.
    file_path = serializers.CharField(source="stored_name", read_only=True)
    uploaded_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = EntityFile
        fields = [
            "id",
            "patient_id",
            "entity_type",
            "entity_id",
            "file_name",
            "file_path",
            "file_size",
            "file_type",
            "sha256",
            "description",
            "category",
            "storage_backend",
            "sync_status",
            "paperless_document_id",
            "paperless_task_uuid",
            "papra_document_id",
            "papra_organization_id",
            "remote_title",
            "last_sync_at",
            "uploaded_by_id",
            "uploaded_at",
            "updated_at",
        ]
        read_only_fields = fields


class UploadFormSerializer(FastSerializer):
    file = serializers.FileField(
        help_text="The file: PDF, images, documents, DICOM/NIfTI, video, audio or archives."
    )
    description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=1000
    )
    category = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=100
    )
    storage_backend = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=20,
        help_text="local (default), paperless or papra (when set up and enabled in your settings).",
    )


class MetadataSerializer(FastSerializer):
    description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=1000
    )
    category = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=100
    )
    file_name = serializers.CharField(required=False, max_length=255)

    def validate_file_name(self, value: str) -> str:
        cleaned = clean_file_name(value)
        current = self.context["entity_file"].file_name
        if extension_of(cleaned) != extension_of(current):
            raise serializers.ValidationError("A new name must keep the file's extension.")
        return cleaned

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(
                "Send at least one of description, category, file_name."
            )
        # null means "clear" for the two free-text fields.
        return {key: ("" if value is None else value.strip()) for key, value in attrs.items()}


class EntityRefSerializer(FastSerializer):
    entity_type = serializers.CharField(max_length=50)
    entity_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class BatchCountsSerializer(FastSerializer):
    """The contract's body is a bare array of {entity_type, entity_id}; the reference's is
    {entity_type, entity_ids}. Both are read into a list of pairs."""

    entity_type = serializers.CharField(max_length=50, required=False)
    entity_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=1000,
    )
    entities = EntityRefSerializer(many=True, required=False, max_length=1000)

    def validate(self, attrs):
        if "entities" in attrs:
            return [(e["entity_type"], e["entity_id"]) for e in attrs["entities"]]
        if "entity_type" in attrs and "entity_ids" in attrs:
            return [(attrs["entity_type"], entity_id) for entity_id in attrs["entity_ids"]]
        raise serializers.ValidationError(
            "Send an array of {entity_type, entity_id}, or {entity_type, entity_ids}."
        )


class FileCountSerializer(FastSerializer):
    entity_type = serializers.CharField()
    entity_id = serializers.IntegerField()
    file_count = serializers.IntegerField()


class FileDeletedSerializer(FastSerializer):
    message = serializers.CharField()
    file_id = serializers.IntegerField()
    in_trash_until = serializers.DateTimeField()
