"""/notifications/history: the caller's messages only, newest first, paged and filtered, in a
constant number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import Delivery
from notifications.tests.event_helpers import make_channel

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications/history"


def message(user, channel, *, minutes_ago: int = 0, **fields) -> Delivery:
    row = Delivery.objects.create(
        user=user,
        channel=channel,
        channel_name=channel.name if channel else fields.pop("channel_name", "Gone"),
        channel_type=channel.channel_type if channel else "email",
        event_type=fields.pop("event_type", "lab_result_available"),
        title=fields.pop("title", "Lab result available"),
        body=fields.pop("body", "The result of CBC is in."),
        **fields,
    )
    # created_at is set on insert; move it back to order the rows.
    Delivery.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return row


def test_anonymous_is_a_401(anon):
    assert anon.get(URL).status_code == 401


class TestHistory:
    def test_own_messages_newest_first_in_the_contracts_shape(self, alice_api, alice, bob):
        phone = make_channel(alice, "Phone")
        sent_at = timezone.now()
        old = message(alice, phone, minutes_ago=10, status="sent", attempt_count=1, sent_at=sent_at)
        new = message(
            alice,
            phone,
            minutes_ago=1,
            status="failed",
            attempt_count=5,
            error_message="HTTP 500 from the webhook",
        )
        message(bob, make_channel(bob, "Bob's"))
        response = alice_api.get(URL)
        assert response.status_code == 200
        got = response.json()
        assert (got["total"], got["page"], got["page_size"]) == (2, 1, 20)
        assert [item["id"] for item in got["items"]] == [new.pk, old.pk]
        first, second = got["items"]
        assert first == {
            "id": new.pk,
            "event_type": "lab_result_available",
            "title": "Lab result available",
            "message_preview": "The result of CBC is in.",
            "channel_name": "Phone",
            "channel_type": "webhook",
            "status": "failed",
            "attempt_count": 5,
            "error_message": "HTTP 500 from the webhook",
            "created_at": first["created_at"],
            "sent_at": None,
        }
        assert second["error_message"] is None and second["sent_at"] is not None
        assert second["status"] == "sent" and second["attempt_count"] == 1

    def test_others_see_none_of_it(self, client_for, alice, mallory):
        message(alice, make_channel(alice))
        got = client_for(mallory).get(URL).json()
        assert got == {"items": [], "total": 0, "page": 1, "page_size": 20}

    def test_a_deleted_channel_keeps_its_name_in_the_history(self, alice_api, alice):
        phone = make_channel(alice, "Old phone")
        message(alice, phone)
        phone.delete()
        (item,) = alice_api.get(URL).json()["items"]
        assert item["channel_name"] == "Old phone" and item["channel_type"] == "webhook"

    def test_the_preview_is_the_start_of_the_body(self, alice_api, alice):
        message(alice, make_channel(alice), body="x" * 1000)
        (item,) = alice_api.get(URL).json()["items"]
        assert item["message_preview"] == "x" * 200

    def test_pages(self, alice_api, alice):
        phone = make_channel(alice)
        rows = [message(alice, phone, minutes_ago=n) for n in range(5)]  # newest first
        page = alice_api.get(URL, {"page": 2, "page_size": 2}).json()
        assert [i["id"] for i in page["items"]] == [rows[2].pk, rows[3].pk]
        assert (page["total"], page["page"], page["page_size"]) == (5, 2, 2)
        last = alice_api.get(URL, {"page": 3, "page_size": 2}).json()
        assert [i["id"] for i in last["items"]] == [rows[4].pk]
        beyond = alice_api.get(URL, {"page": 9, "page_size": 2}).json()
        assert beyond["items"] == [] and beyond["total"] == 5

    def test_filters(self, alice_api, alice):
        phone = make_channel(alice)
        sent = message(alice, phone, status="sent")
        message(alice, phone, status="failed")
        reminder = message(alice, phone, status="sent", event_type="medication_reminder_due")
        by_status = alice_api.get(URL, {"status_filter": "sent"}).json()
        assert {i["id"] for i in by_status["items"]} == {sent.pk, reminder.pk}
        assert by_status["total"] == 2
        both = alice_api.get(
            URL, {"status_filter": "sent", "event_type": "medication_reminder_due"}
        ).json()
        assert [i["id"] for i in both["items"]] == [reminder.pk] and both["total"] == 1
        # An empty filter is no filter (a select left on "all").
        assert alice_api.get(URL, {"status_filter": "", "event_type": ""}).json()["total"] == 3
        assert alice_api.get(URL, {"event_type": "test_notification"}).json()["total"] == 0

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"page": 0}, "page"),
            ({"page": "two"}, "page"),
            ({"page_size": 0}, "page_size"),
            ({"page_size": 101}, "page_size"),
            ({"page_size": "all"}, "page_size"),
            ({"status_filter": "delivered"}, "status_filter"),
            ({"event_type": "x" * 51}, "event_type"),
        ],
    )
    def test_bad_queries_are_a_422_naming_the_parameter(self, alice_api, query, field):
        response = alice_api.get(URL, query)
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]

    def test_the_largest_page(self, alice_api, alice):
        phone = make_channel(alice)
        for _ in range(3):
            message(alice, phone)
        got = alice_api.get(URL, {"page_size": 100}).json()
        assert got["page_size"] == 100 and len(got["items"]) == 3


def test_a_page_costs_the_same_queries_whatever_its_size(alice_api, alice):
    phone = make_channel(alice)
    Delivery.objects.bulk_create(
        Delivery(
            user=alice,
            channel=phone,
            channel_name=phone.name,
            channel_type=phone.channel_type,
            event_type="lab_result_available",
            title=f"Message {n}",
            body="Body",
        )
        for n in range(120)
    )
    counts = {}
    for size in (1, 20, 100):
        with CaptureQueriesContext(connection) as queries:
            got = alice_api.get(URL, {"page_size": size}).json()
        assert len(got["items"]) == size
        counts[size] = len(queries)
    # The account (authentication), the page's rows, the count: nothing per row.
    assert counts == {1: 3, 20: 3, 100: 3}
