"""The notifications admin: pages open, settings appear masked only, re-encryption works."""

import pytest
from cryptography.fernet import Fernet

from notifications import channels
from notifications.models import Delivery, NotificationChannel, NotificationPreference

pytestmark = pytest.mark.django_db

BOT = "123456789:AAHsecretTokenPart_xyz-0987"


@pytest.fixture
def channel(alice):
    row = NotificationChannel(user=alice, name="Phone", channel_type="telegram")
    channels.store_config(row, {"bot_token": BOT, "chat_id": "987654321"})
    row.save()
    NotificationPreference.objects.create(
        user=alice, channel=row, event_type="lab_result_available"
    )
    Delivery.objects.create(
        user=alice, channel=row, channel_name="Phone", event_type="x", title="t", error_message="e"
    )
    return row


@pytest.mark.parametrize("name", ["notificationchannel", "notificationpreference", "delivery"])
def test_list_and_change_pages_open(admin_client, channel, name):
    assert admin_client.get(f"/admin/notifications/{name}/").status_code == 200
    model = {"notificationchannel": NotificationChannel, "delivery": Delivery}.get(
        name, NotificationPreference
    )
    row = model.objects.first()
    assert admin_client.get(f"/admin/notifications/{name}/{row.pk}/change/").status_code == 200


def test_the_channel_page_shows_settings_masked(admin_client, channel):
    page = admin_client.get(f"/admin/notifications/notificationchannel/{channel.pk}/change/")
    text = page.content.decode()
    assert "987...321" in text and "...hidden..." in text
    assert BOT not in text and channel.config_encrypted not in text
    # Encrypted under a key the server no longer holds.
    channel.config_encrypted = Fernet(Fernet.generate_key()).encrypt(b"{}").decode()
    channel.save()
    page = admin_client.get(f"/admin/notifications/notificationchannel/{channel.pk}/change/")
    assert "Enter the channel&#x27;s settings again" in page.content.decode()


def test_the_reencrypt_action(admin_client, channel, settings):
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [key]
    response = admin_client.post(
        "/admin/notifications/notificationchannel/",
        {"action": "reencrypt_settings", "_selected_action": [channel.pk]},
        follow=True,
    )
    assert "1 channel(s) re-encrypted." in response.content.decode()
    channel.refresh_from_db()
    Fernet(key).decrypt(channel.config_encrypted.encode())
