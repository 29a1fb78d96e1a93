"""Response shapes every app shares (one class per shape, so the schema names each once)."""

from rest_framework import serializers

from medikeep.api.representation import FastSerializer


class MessageSerializer(FastSerializer):
    """{"message": "..."}: the answer of actions that only confirm."""

    message = serializers.CharField()
