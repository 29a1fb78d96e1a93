"""/notifications/history: the caller's messages, newest first, a page at a time.

A page costs two queries whatever its size (the count and the rows): every field shown is a
column of the delivery row itself, which keeps the channel's name and type after the channel
is gone.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from medikeep.api.representation import FastModelSerializer, FastSerializer
from medikeep.api.views import ApiView
from notifications.models import Delivery, DeliveryStatus

TAGS = ["notifications"]
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
PREVIEW_CHARS = 200
# The columns a history row shows (the body for its preview); the rest stays in the database.
COLUMNS = (
    "id",
    "event_type",
    "title",
    "body",
    "channel_name",
    "channel_type",
    "status",
    "attempt_count",
    "error_message",
    "created_at",
    "sent_at",
)


class NotificationHistoryQuerySerializer(FastSerializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10**7)
    page_size = serializers.IntegerField(
        required=False, default=DEFAULT_PAGE_SIZE, min_value=1, max_value=MAX_PAGE_SIZE
    )
    status_filter = serializers.ChoiceField(
        choices=DeliveryStatus.choices, required=False, allow_blank=True
    )
    event_type = serializers.CharField(required=False, allow_blank=True, max_length=50)


class NotificationHistoryItemSerializer(FastModelSerializer):
    message_preview = serializers.SerializerMethodField()
    error_message = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_type",
            "title",
            "message_preview",
            "channel_name",
            "channel_type",
            "status",
            "attempt_count",
            "error_message",
            "created_at",
            "sent_at",
        ]

    def get_message_preview(self, delivery) -> str:
        return delivery.body[:PREVIEW_CHARS]

    def get_error_message(self, delivery) -> str | None:
        return delivery.error_message or None


class NotificationHistoryPageSerializer(FastSerializer):
    items = NotificationHistoryItemSerializer(many=True)
    total = serializers.IntegerField(help_text="Messages matching the filters (all pages).")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()


class HistoryView(ApiView):
    @extend_schema(
        parameters=[NotificationHistoryQuerySerializer],
        responses=NotificationHistoryPageSerializer,
        tags=TAGS,
        operation_id="notification_history",
    )
    def get(self, request):
        """The caller's notifications (reminders, events, test sends), newest first.
        `status_filter`: pending, sending, sent, failed or cancelled."""
        query = NotificationHistoryQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = Delivery.objects.filter(user=request.user)
        if params.get("status_filter"):
            rows = rows.filter(status=params["status_filter"])
        if params.get("event_type"):
            rows = rows.filter(event_type=params["event_type"])
        page, size = params["page"], params["page_size"]
        start = (page - 1) * size
        items = rows.order_by("-created_at", "-id").only(*COLUMNS)
        return Response(
            {
                "items": NotificationHistoryItemSerializer(
                    items[start : start + size], many=True
                ).data,
                "total": rows.count(),
                "page": page,
                "page_size": size,
            }
        )


urlpatterns = [path("notifications/history", HistoryView.as_view())]
