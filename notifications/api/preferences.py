"""/notifications/event-types, /notifications/preferences and the preference matrix.

A user reads and sets only their own preferences, on their own channels: another user's
channel id is a 404, as if it did not exist. The event types are the registry's
(notifications/events.py); administrators also see the system events (backups).
"""

from __future__ import annotations

from django.db import transaction
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from medikeep.api.exceptions import FieldValidationError
from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.views import ApiView
from notifications import events
from notifications.models import NotificationChannel, NotificationPreference

TAGS = ["notifications"]
CHANNEL_NOT_FOUND = "Notification channel not found."
REMIND_BEFORE_MAX = 24 * 60  # a day ahead at most


class NotificationEventTypeSerializer(FastSerializer):
    value = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    is_implemented = serializers.BooleanField()


class NotificationEventTypesSerializer(FastSerializer):
    event_types = NotificationEventTypeSerializer(many=True)


class NotificationPreferenceSerializer(FastModelSerializer):
    channel_id = serializers.IntegerField(read_only=True)
    channel_name = serializers.CharField(source="channel.name", read_only=True)

    class Meta:
        model = NotificationPreference
        fields = [
            "id",
            "channel_id",
            "channel_name",
            "event_type",
            "is_enabled",
            "remind_before_minutes",
            "created_at",
            "updated_at",
        ]


class NotificationPreferenceInputSerializer(FastSerializer):
    channel_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    event_type = serializers.CharField(max_length=50)
    is_enabled = serializers.BooleanField(required=False, help_text="Default true for a new one.")
    remind_before_minutes = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=REMIND_BEFORE_MAX,
        help_text="Medication reminders: minutes before the dose time (0-1440).",
    )


class NotificationChannelSummarySerializer(FastModelSerializer):
    class Meta:
        model = NotificationChannel
        fields = ["id", "name", "channel_type", "is_enabled", "is_verified"]


class NotificationMatrixSerializer(FastSerializer):
    channels = NotificationChannelSummarySerializer(many=True)
    events = serializers.ListField(child=serializers.CharField())
    preferences = serializers.DictField(
        child=serializers.DictField(child=serializers.BooleanField()),
        help_text='{event_type: {"<channel id>": enabled}}; false where no preference is set.',
    )


class EventTypesView(ApiView):
    @extend_schema(
        responses=NotificationEventTypesSerializer, tags=TAGS, operation_id="notification_events"
    )
    def get(self, request):
        """The events a user can be notified of, grouped by category in the web app."""
        return Response(
            {"event_types": [event.as_dict() for event in events.available_to(request.user)]}
        )


class PreferencesView(ApiView):
    @extend_schema(
        responses=NotificationPreferenceSerializer(many=True),
        tags=TAGS,
        operation_id="notification_preferences_list",
    )
    def get(self, request):
        """The caller's preferences, one per (channel, event type) they have set."""
        rows = NotificationPreference.objects.filter(
            user=request.user, channel__user=request.user
        ).select_related("channel")
        return Response(NotificationPreferenceSerializer(rows, many=True).data)

    @extend_schema(
        request=NotificationPreferenceInputSerializer,
        responses=NotificationPreferenceSerializer,
        tags=TAGS,
        operation_id="notification_preferences_set",
    )
    def post(self, request):
        """Sets one preference (created or updated): whether `event_type` goes to the channel,
        and for medication reminders how long before the dose. What is not sent stays."""
        serializer = NotificationPreferenceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        event_type = values["event_type"]
        if event_type not in {event.value for event in events.available_to(request.user)}:
            raise FieldValidationError("event_type", f"Unknown event type: {event_type}.")
        channel = NotificationChannel.objects.filter(
            pk=values["channel_id"], user=request.user
        ).first()
        if channel is None:
            raise NotFound(CHANNEL_NOT_FOUND)
        changes = {
            field: values[field]
            for field in ("is_enabled", "remind_before_minutes")
            if field in values
        }
        with transaction.atomic():
            preference, created = NotificationPreference.objects.select_for_update().get_or_create(
                user=request.user, channel=channel, event_type=event_type, defaults=changes
            )
            if not created and changes:
                for field, value in changes.items():
                    setattr(preference, field, value)
                preference.save(update_fields=[*changes, "updated_at"])
        preference.channel = channel
        return Response(NotificationPreferenceSerializer(preference).data)


class MatrixView(ApiView):
    @extend_schema(
        responses=NotificationMatrixSerializer, tags=TAGS, operation_id="notification_matrix"
    )
    def get(self, request):
        """Every event type against every channel of the caller: enabled or not."""
        channels = list(NotificationChannel.objects.filter(user=request.user))
        names = [event.value for event in events.available_to(request.user)]
        matrix = {name: {str(channel.pk): False for channel in channels} for name in names}
        rows = NotificationPreference.objects.filter(
            user=request.user, channel__user=request.user, event_type__in=names
        ).values_list("event_type", "channel_id", "is_enabled")
        for event_type, channel_id, enabled in rows:
            matrix[event_type][str(channel_id)] = enabled
        return Response(
            {
                "channels": NotificationChannelSummarySerializer(channels, many=True).data,
                "events": names,
                "preferences": matrix,
            }
        )


urlpatterns = [
    path("notifications/event-types", EventTypesView.as_view()),
    path("notifications/preferences", PreferencesView.as_view()),
    path("notifications/preferences/matrix", MatrixView.as_view()),
]
