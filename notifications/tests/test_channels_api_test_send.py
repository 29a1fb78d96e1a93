"""POST /notifications/channels/{id}/test: a real send now, recorded in the history and on the
channel; a failure is 200 with success false and a reason that holds no secret."""

from __future__ import annotations

import pytest

from notifications.models import Delivery, NotificationChannel
from notifications.tests.conftest import SMTP_PASSWORD, SMTP_USER

pytestmark = pytest.mark.django_db

BASE = "/api/v1/notifications/channels"
BOT = "123456789:AAHsecretTokenPart_xyz-0987"
BEARER = "bearer-Secret-4455"


def make(api, channel_type, config, name="Test me"):
    response = api.post(
        BASE, {"name": name, "channel_type": channel_type, "config": config}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_successful_test_marks_the_channel_verified_and_writes_history(
    alice_api, alice, http_sink
):
    channel_id = make(alice_api, "webhook", {"url": f"{http_sink.url}/in", "auth_token": BEARER})
    response = alice_api.post(f"{BASE}/{channel_id}/test", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Test notification sent successfully"
    assert body["channel_name"] == "Test me"
    assert body["sent_at"].endswith("Z")

    (request,) = http_sink.requests
    assert request.json()["title"] == "MediKeep test notification"
    assert 'the channel "Test me" works' in request.json()["message"]
    (delivery,) = Delivery.objects.all()
    assert (delivery.user, delivery.channel_id, delivery.channel_name) == (
        alice,
        channel_id,
        "Test me",
    )
    assert (delivery.event_type, delivery.is_test, delivery.status) == (
        "test_notification",
        True,
        "sent",
    )
    assert (delivery.attempt_count, delivery.dedup_key, delivery.error_message) == (1, None, "")
    assert delivery.lease_until is None  # finished: nothing for the sweeper
    assert request.headers["x-medikeep-delivery"] == f"test:{delivery.pk}"

    channel = alice_api.get(f"{BASE}/{channel_id}").json()
    assert (channel["is_verified"], channel["last_test_status"]) == (True, "success")
    assert channel["total_notifications_sent"] == 1
    assert channel["last_test_at"] and channel["last_used_at"]


def test_a_custom_message_is_sent(alice_api, http_sink):
    channel_id = make(alice_api, "webhook", {"url": f"{http_sink.url}/in"})
    response = alice_api.post(
        f"{BASE}/{channel_id}/test", {"message": "Custom test message"}, format="json"
    )
    assert response.json()["success"] is True
    assert http_sink.requests[0].json()["message"] == "Custom test message"
    assert Delivery.objects.get().body == "Custom test message"


def test_a_too_long_message_is_refused(alice_api, http_sink):
    channel_id = make(alice_api, "webhook", {"url": f"{http_sink.url}/in"})
    response = alice_api.post(f"{BASE}/{channel_id}/test", {"message": "x" * 501}, format="json")
    assert response.status_code == 422
    assert "message" in response.json()["errors"]
    assert http_sink.requests == [] and Delivery.objects.count() == 0


def test_a_failed_send_is_200_false_with_a_scrubbed_reason(alice_api, services_to_sink, caplog):
    caplog.set_level(1)
    sink = services_to_sink
    sink.respond(401, {"ok": False, "description": f"Unauthorized token {BOT}"})
    channel_id = make(alice_api, "telegram", {"bot_token": BOT, "chat_id": "987654321"})
    response = alice_api.post(f"{BASE}/{channel_id}/test", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["success"], body["sent_at"]) == (False, None)
    assert body["message"].startswith("Test notification failed: ")
    assert "401" in body["message"]
    (delivery,) = Delivery.objects.all()
    assert (delivery.status, delivery.is_test, delivery.sent_at) == ("failed", True, None)
    assert "401" in delivery.error_message
    for text in (response.content.decode(), delivery.error_message, caplog.text):
        assert BOT not in text and BOT.split(":")[1] not in text
    channel = NotificationChannel.objects.get(pk=channel_id)
    assert (channel.last_test_status, channel.is_verified) == ("failed", False)
    assert channel.total_notifications_sent == 0 and channel.last_test_at is not None


def test_an_email_test_through_smtp(alice_api, smtp_sink_login, caplog):
    caplog.set_level(1)
    config = {
        "smtp_host": smtp_sink_login.host,
        "smtp_port": smtp_sink_login.port,
        "smtp_user": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "from_email": "medikeep@example.org",
        "to_email": "alice@example.org",
        "use_tls": False,
    }
    channel_id = make(alice_api, "email", config)
    assert alice_api.post(f"{BASE}/{channel_id}/test", {}, format="json").json()["success"]
    (mail,) = smtp_sink_login.wait_for(1)
    assert mail.subject == "MediKeep test notification"

    wrong = alice_api.put(
        f"{BASE}/{channel_id}", {"config": {"smtp_password": "Not-The-Pa55"}}, format="json"
    )
    assert wrong.json()["is_verified"] is False  # new settings are unproven
    failed = alice_api.post(f"{BASE}/{channel_id}/test", {}, format="json").json()
    assert failed["success"] is False and "authentication failed" in failed["message"]
    texts = [
        failed["message"],
        caplog.text,
        *Delivery.objects.values_list("error_message", flat=True),
    ]
    for text in texts:
        assert SMTP_PASSWORD not in text and "Not-The-Pa55" not in text


def test_undecryptable_settings_answer_success_false(alice_api, http_sink, settings):
    channel_id = make(alice_api, "webhook", {"url": f"{http_sink.url}/in"})
    settings.SECRET_KEY = "rotated-away-secret-key-" + "q" * 40
    response = alice_api.post(f"{BASE}/{channel_id}/test", {}, format="json")
    assert response.status_code == 200
    assert response.json()["success"] is False
    assert "Enter the channel's settings again" in response.json()["message"]
    assert http_sink.requests == []
    assert NotificationChannel.objects.get(pk=channel_id).last_test_status == "error"
    assert Delivery.objects.get().status == "failed"


def test_settings_that_no_longer_pass_answer_configuration_invalid(alice_api, http_sink):
    from notifications import channels

    channel_id = make(alice_api, "webhook", {"url": f"{http_sink.url}/in"})
    channel = NotificationChannel.objects.get(pk=channel_id)
    channels.store_config(channel, {"method": "POST"})  # e.g. a rule tightened since
    channel.save()
    body = alice_api.post(f"{BASE}/{channel_id}/test", {}, format="json").json()
    assert body["success"] is False
    assert body["message"] == "Channel configuration is invalid: url: This field is required."
    assert alice_api.get(BASE).json()[0]["config_valid"] is False


def test_a_disabled_channel_can_still_be_tested(alice_api, http_sink):
    channel_id = make(alice_api, "webhook", {"url": f"{http_sink.url}/in"})
    alice_api.put(f"{BASE}/{channel_id}", {"is_enabled": False}, format="json")
    assert alice_api.post(f"{BASE}/{channel_id}/test", {}, format="json").json()["success"]
