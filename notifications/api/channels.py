"""The signed-in user's notification channels: list, create, read (masked), update, delete and
send a test. Another user's channel is a 404; settings never leave in clear."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from medikeep import crypto
from medikeep.api.exceptions import RequestValidationError
from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.views import ApiView
from notifications import channels, sending
from notifications.models import (
    ChannelType,
    Delivery,
    DeliveryStatus,
    NotificationChannel,
    TestStatus,
)

TAGS = ["notifications"]
TEST_EVENT = "test_notification"
TEST_TITLE = "MediKeep test notification"
UNKNOWN_TYPE = f"Unknown channel type; use one of: {', '.join(ChannelType.values)}."


# ---------------------------------------------------------------- serializers


class ChannelSerializer(FastModelSerializer):
    config_valid = serializers.SerializerMethodField()
    config_error = serializers.SerializerMethodField()

    class Meta:
        model = NotificationChannel
        fields = [
            "id",
            "name",
            "channel_type",
            "is_enabled",
            "is_verified",
            "last_test_at",
            "last_test_status",
            "last_used_at",
            "total_notifications_sent",
            "config_valid",
            "config_error",
            "created_at",
            "updated_at",
        ]

    def _status(self, channel) -> tuple[bool, str | None]:
        # Both fields come from one decryption per channel.
        cache = self.__dict__.setdefault("_status_cache", {})
        if channel.pk not in cache:
            cache[channel.pk] = channels.config_status(channel)
        return cache[channel.pk]

    def get_config_valid(self, channel) -> bool:
        return self._status(channel)[0]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_config_error(self, channel) -> str | None:
        return self._status(channel)[1]


class ChannelDetailSerializer(ChannelSerializer):
    config_masked = serializers.SerializerMethodField()

    class Meta(ChannelSerializer.Meta):
        fields = [*ChannelSerializer.Meta.fields, "config_masked"]

    @extend_schema_field(serializers.DictField())
    def get_config_masked(self, channel) -> dict:
        try:
            return channels.mask_config(channel.channel_type, channels.channel_config(channel))
        except crypto.DecryptionError:
            return {}  # config_error says to enter the settings again


class _NameField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=100, **kwargs)


class ChannelCreateSerializer(FastSerializer):
    name = _NameField()
    channel_type = serializers.ChoiceField(
        choices=ChannelType.choices, error_messages={"invalid_choice": UNKNOWN_TYPE}
    )
    config = serializers.DictField()
    is_enabled = serializers.BooleanField(default=True)


class ChannelUpdateSerializer(FastSerializer):
    name = _NameField(required=False)
    channel_type = serializers.CharField(required=False, max_length=20)
    config = serializers.DictField(required=False)
    is_enabled = serializers.BooleanField(required=False)


class ChannelTestRequestSerializer(FastSerializer):
    message = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ChannelTestResultSerializer(FastSerializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    channel_name = serializers.CharField()
    sent_at = serializers.DateTimeField(allow_null=True)


# ---------------------------------------------------------------- helpers


def _clean_config(channel_type: str, config: dict) -> dict:
    """The type's checked settings; errors are named config.<key> (422)."""
    try:
        return channels.validate_config(channel_type, config)
    except ValidationError as exc:
        raise ValidationError({"config": exc.detail}) from exc


def _duplicate_name(name: str) -> RequestValidationError:
    return RequestValidationError(
        {"name": [f'You already have a notification channel named "{name}".']}
    )


def _name_taken(user, name: str, *, other_than: int | None = None) -> bool:
    return NotificationChannel.objects.filter(user=user, name=name).exclude(pk=other_than).exists()


def _save(channel: NotificationChannel, **kwargs) -> None:
    """Save, turning the unique-name race into the same 400 as the check before it."""
    try:
        with transaction.atomic():
            channel.save(**kwargs)
    except IntegrityError as exc:
        raise _duplicate_name(channel.name) from exc


def _own_channel(request, channel_id: int) -> NotificationChannel:
    channel = NotificationChannel.objects.filter(user=request.user, pk=channel_id).first()
    if channel is None:
        raise NotFound("Notification channel not found.")
    return channel


def _detail(channel) -> dict:
    return ChannelDetailSerializer(channel).data


# ---------------------------------------------------------------- views


class ChannelListView(ApiView):
    @extend_schema(
        summary="List your notification channels",
        description="Your channels (email, Telegram, Discord, Slack, webhook, Pushover, ntfy, "
        "Gotify) by name, with whether their settings are usable (`config_valid`) and how "
        "the last test went. Settings are not included; GET one channel for them, masked.",
        responses=ChannelSerializer(many=True),
        tags=TAGS,
    )
    def get(self, request):
        rows = NotificationChannel.objects.filter(user=request.user).order_by("name", "id")
        return Response(ChannelSerializer(rows, many=True).data)

    @extend_schema(
        summary="Add a notification channel",
        description="`channel_type` picks the service and `config` carries its settings "
        "(for ntfy: `server_url`, `topic`, optional `auth_token` and `priority`). Settings "
        "are checked for the type (422 naming each field), stored encrypted and answered "
        "masked. A name you already use for another channel answers 400.",
        request=ChannelCreateSerializer,
        responses={201: ChannelDetailSerializer},
        examples=[
            OpenApiExample(
                "ntfy channel",
                value={
                    "name": "Phone",
                    "channel_type": "ntfy",
                    "config": {"server_url": "https://ntfy.sh", "topic": "medikeep-jdoe"},
                    "is_enabled": True,
                },
                request_only=True,
            )
        ],
        tags=TAGS,
    )
    def post(self, request):
        given = ChannelCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        config = _clean_config(data["channel_type"], data["config"])
        if _name_taken(request.user, data["name"]):
            raise _duplicate_name(data["name"])
        channel = NotificationChannel(
            user=request.user,
            name=data["name"],
            channel_type=data["channel_type"],
            is_enabled=data["is_enabled"],
        )
        channels.store_config(channel, config)
        _save(channel)
        return Response(_detail(channel), status=status.HTTP_201_CREATED)


class ChannelDetailView(ApiView):
    @extend_schema(
        summary="Get a notification channel",
        description="One of your channels with its settings masked (secrets hidden, "
        "addresses partly shown). Another user's channel answers 404.",
        responses=ChannelDetailSerializer,
        tags=TAGS,
    )
    def get(self, request, channel_id):
        return Response(_detail(_own_channel(request, channel_id)))

    @extend_schema(
        summary="Change a notification channel",
        description="Changes the fields sent. In `config`, keys not sent stay, a masked "
        "value sent back keeps the stored secret, and null or an empty string clears an "
        "optional key; changed settings must pass a new test. The type cannot change (422).",
        request=ChannelUpdateSerializer,
        responses=ChannelDetailSerializer,
        tags=TAGS,
    )
    def put(self, request, channel_id):
        channel = _own_channel(request, channel_id)
        given = ChannelUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        if data.get("channel_type", channel.channel_type) != channel.channel_type:
            raise ValidationError(
                {"channel_type": ["A channel's type cannot change; create a new channel."]}
            )
        if "name" in data and data["name"] != channel.name:
            if _name_taken(request.user, data["name"], other_than=channel.pk):
                raise _duplicate_name(data["name"])
            channel.name = data["name"]
        if "is_enabled" in data:
            channel.is_enabled = data["is_enabled"]
        if "config" in data:
            try:
                stored = channels.channel_config(channel)
            except crypto.DecryptionError:
                stored = {}  # unreadable: the update must carry every setting again
            merged = channels.merge_config(channel.channel_type, stored, data["config"])
            config = _clean_config(channel.channel_type, merged)
            if config != stored:
                channels.store_config(channel, config)
                channel.is_verified = False  # a test must prove the new settings
        _save(channel)
        return Response(_detail(channel))

    @extend_schema(
        summary="Delete a notification channel",
        description="Deletes one of your channels; notifications stop going to it at once.",
        responses={204: OpenApiResponse(description="Deleted.")},
        tags=TAGS,
    )
    def delete(self, request, channel_id):
        _own_channel(request, channel_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestView(ApiView):
    @extend_schema(
        request=ChannelTestRequestSerializer,
        responses=ChannelTestResultSerializer,
        tags=TAGS,
        description="Sends a test message now. A bad configuration or a failed send is "
        "200 with success false and the reason.",
    )
    def post(self, request, channel_id):
        channel = _own_channel(request, channel_id)
        given = ChannelTestRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        body = given.validated_data.get("message") or (
            f'This is a test from MediKeep: the channel "{channel.name}" works.'
        )
        return Response(send_test(channel, body=body, user=request.user))


def send_test(channel: NotificationChannel, *, body: str, user) -> dict:
    """Send a test message through `channel` now, record it in the history (is_test) and on
    the channel (last test, verified, counters); the answer of the test endpoint."""
    # Leased like a worker's claim: if this process dies mid-send, the sweeper hands the row to
    # the delivery worker once the lease ends, so the test is still sent and recorded.
    lease = timedelta(seconds=getattr(settings, "NOTIFICATION_LEASE_SECONDS", 300))
    delivery = Delivery.objects.create(
        lease_until=timezone.now() + lease,
        user=user,
        channel=channel,
        channel_name=channel.name,
        channel_type=channel.channel_type,
        event_type=TEST_EVENT,
        title=TEST_TITLE,
        body=body,
        status=DeliveryStatus.SENDING,
        is_test=True,
        attempt_count=1,
    )
    try:
        config = channels.channel_config(channel)
    except crypto.DecryptionError:
        result, outcome = sending.SendResult(False, channels.NEEDS_REENTRY), TestStatus.ERROR
    else:
        result = sending.send(
            channel.channel_type,
            config,
            title=TEST_TITLE,
            body=body,
            idempotency_key=f"test:{delivery.pk}",
        )
        if result.ok:
            outcome = TestStatus.SUCCESS
        elif (result.error or "").startswith("Channel configuration is invalid"):
            outcome = TestStatus.ERROR
        else:
            outcome = TestStatus.FAILED
    now = timezone.now()
    changes = {"last_test_at": now, "last_test_status": outcome, "updated_at": now}
    if result.ok:
        changes.update(
            is_verified=True,
            last_used_at=now,
            total_notifications_sent=F("total_notifications_sent") + 1,
        )
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENT, sent_at=now, lease_until=None
        )
    else:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, error_message=(result.error or "")[:500], lease_until=None
        )
    NotificationChannel.objects.filter(pk=channel.pk).update(**changes)
    if result.ok:
        message = "Test notification sent successfully"
    elif outcome == TestStatus.ERROR:
        message = result.error  # "Channel configuration is invalid: …" or "… enter again"
    else:
        message = f"Test notification failed: {result.error}"
    answer = {
        "success": result.ok,
        "message": message,
        "channel_name": channel.name,
        "sent_at": now if result.ok else None,
    }
    return ChannelTestResultSerializer(answer).data


urlpatterns = [
    path("notifications/channels", ChannelListView.as_view()),
    path("notifications/channels/<int:channel_id>", ChannelDetailView.as_view()),
    path("notifications/channels/<int:channel_id>/test", ChannelTestView.as_view()),
]
