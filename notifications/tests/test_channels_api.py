"""/notifications/channels: the owner's channels only, settings masked, updates merged."""

from __future__ import annotations

import pytest

from notifications import channels
from notifications.models import Delivery, NotificationChannel

pytestmark = pytest.mark.django_db

BASE = "/api/v1/notifications/channels"
BOT = "123456789:AAHsecretTokenPart_xyz-0987"
SMTP_SECRET = "Smtp-Secret-Pa55"

CONFIGS = {
    "email": {
        "smtp_host": "smtp.example.org",
        "smtp_port": 587,
        "smtp_user": "mailer@example.org",
        "smtp_password": SMTP_SECRET,
        "from_email": "medikeep@example.org",
        "to_email": "alice@example.org",
        "use_tls": True,
    },
    "telegram": {"bot_token": BOT, "chat_id": "987654321"},
    "discord": {"webhook_url": "https://discord.com/api/webhooks/1122334455/discordSecret_99"},
    "slack": {"webhook_url": "https://hooks.slack.com/services/T0AAAA11/B0BBBB22/slackSecret99"},
    "webhook": {"url": "https://hooks.example.org/in/hookSecret99", "auth_token": "bearerSecret"},
    "pushover": {"user_key": "uQiRzpo4DXghDmr9QzzfQu27cmVRsG", "api_token": "p" * 30},
    "ntfy": {"server_url": "https://ntfy.example.org", "topic": "alice_meds", "priority": 4},
    "gotify": {"server_url": "https://gotify.example.org", "app_token": "gotifySecret.1"},
}
SECRETS = [
    BOT,
    SMTP_SECRET,
    "discordSecret_99",
    "slackSecret99",
    "hookSecret99",
    "bearerSecret",
    "p" * 30,
    "gotifySecret.1",
]

LIST_KEYS = {
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
}


def create(api, channel_type="telegram", name=None, **extra):
    body = {
        "name": name or f"My {channel_type}",
        "channel_type": channel_type,
        "config": CONFIGS[channel_type],
        **extra,
    }
    return api.post(BASE, body, format="json")


def assert_no_secret(text):
    for secret in SECRETS:
        assert secret not in text


@pytest.fixture
def alice_channel(alice_api):
    response = create(alice_api)
    assert response.status_code == 201, response.content
    return response.json()


# ---------------------------------------------------------------- create, read, list


@pytest.mark.parametrize("channel_type", sorted(CONFIGS))
def test_create_every_type_answers_201_masked(alice_api, channel_type):
    response = create(alice_api, channel_type)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == LIST_KEYS | {"config_masked"}
    assert (body["channel_type"], body["is_enabled"], body["is_verified"]) == (
        channel_type,
        True,
        False,
    )
    assert (body["config_valid"], body["config_error"]) == (True, None)
    assert_no_secret(response.content.decode())
    stored = NotificationChannel.objects.get(pk=body["id"])
    assert_no_secret(stored.config_encrypted)
    assert channels.channel_config(stored) == channels.validate_config(
        channel_type, CONFIGS[channel_type]
    )


def test_get_one_shows_the_masked_settings(alice_api, alice_channel):
    response = alice_api.get(f"{BASE}/{alice_channel['id']}")
    assert response.status_code == 200
    assert response.json()["config_masked"] == {"bot_token": "...hidden...", "chat_id": "987...321"}


def test_the_list_is_an_array_without_settings(alice_api, alice_channel):
    create(alice_api, "webhook", name="A hook")
    response = alice_api.get(BASE)
    assert response.status_code == 200
    rows = response.json()
    assert [row["name"] for row in rows] == ["A hook", "My telegram"]
    assert all(set(row) == LIST_KEYS for row in rows)
    assert_no_secret(response.content.decode())


def test_create_disabled_and_with_trailing_slash(alice_api):
    response = alice_api.post(
        f"{BASE}/",
        {"name": "Quiet", "channel_type": "ntfy", "config": {"topic": "t1"}, "is_enabled": False},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["is_enabled"] is False
    assert response.json()["config_masked"]["server_url"] == "https://ntfy.sh"


# ---------------------------------------------------------------- who may


def test_another_users_channel_is_not_found(client_for, bob, alice_channel):
    bob_api = client_for(bob)
    url = f"{BASE}/{alice_channel['id']}"
    assert bob_api.get(url).status_code == 404
    assert bob_api.put(url, {"name": "Mine now"}, format="json").status_code == 404
    assert bob_api.delete(url).status_code == 404
    assert bob_api.post(f"{url}/test", {}, format="json").status_code == 404
    assert bob_api.get(BASE).json() == []
    assert NotificationChannel.objects.get(pk=alice_channel["id"]).name == "My telegram"


def test_anonymous_is_401(anon, alice_channel):
    url = f"{BASE}/{alice_channel['id']}"
    assert anon.get(BASE).status_code == 401
    assert anon.post(BASE, {}, format="json").status_code == 401
    assert anon.get(url).status_code == 401
    assert anon.put(url, {}, format="json").status_code == 401
    assert anon.delete(url).status_code == 401
    assert anon.post(f"{url}/test", {}, format="json").status_code == 401


def test_unknown_id_is_404(alice_api):
    assert alice_api.get(f"{BASE}/999999").status_code == 404
    assert alice_api.get(f"{BASE}/not-a-number").status_code == 404


# ---------------------------------------------------------------- names


def test_a_name_is_unique_per_user(alice_api, client_for, bob, alice_channel):
    again = create(alice_api)
    assert again.status_code == 400
    body = again.json()
    assert body["errors"] == {
        "name": ['You already have a notification channel named "My telegram".']
    }
    assert "already have" in body["message"]
    assert create(client_for(bob)).status_code == 201  # another user's names are theirs

    other = create(alice_api, "webhook", name="Other")
    renamed = alice_api.put(f"{BASE}/{other.json()['id']}", {"name": "My telegram"}, format="json")
    assert renamed.status_code == 400
    same = alice_api.put(f"{BASE}/{alice_channel['id']}", {"name": "My telegram"}, format="json")
    assert same.status_code == 200


# ---------------------------------------------------------------- updates


def test_update_merges_settings_and_keeps_masked_values(alice_api, alice_channel):
    url = f"{BASE}/{alice_channel['id']}"
    NotificationChannel.objects.filter(pk=alice_channel["id"]).update(is_verified=True)
    shown = alice_api.get(url).json()["config_masked"]
    # The web app's edit form re-sends what it showed, with the chat id changed.
    response = alice_api.put(
        url,
        {"name": "Phone", "is_enabled": False, "config": {**shown, "chat_id": "-100222333"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["is_enabled"], body["is_verified"]) == ("Phone", False, False)
    assert body["config_masked"]["chat_id"] == "-10...333"
    stored = channels.channel_config(NotificationChannel.objects.get(pk=alice_channel["id"]))
    assert stored == {"bot_token": BOT, "chat_id": "-100222333"}


def test_update_without_config_leaves_settings_and_verification(alice_api, alice_channel):
    url = f"{BASE}/{alice_channel['id']}"
    NotificationChannel.objects.filter(pk=alice_channel["id"]).update(is_verified=True)
    response = alice_api.put(url, {"is_enabled": False}, format="json")
    assert response.status_code == 200
    assert (response.json()["is_verified"], response.json()["name"]) == (True, "My telegram")
    same = alice_api.put(url, {"config": {"bot_token": "...hidden..."}}, format="json")
    assert same.json()["is_verified"] is True  # nothing really changed
    stored = channels.channel_config(NotificationChannel.objects.get(pk=alice_channel["id"]))
    assert stored["bot_token"] == BOT


def test_update_can_clear_an_optional_secret(alice_api):
    created = create(alice_api, "webhook").json()
    url = f"{BASE}/{created['id']}"
    response = alice_api.put(url, {"config": {"auth_token": ""}}, format="json")
    assert response.status_code == 200
    assert "auth_token" not in response.json()["config_masked"]


def test_update_checks_the_merged_settings(alice_api, alice_channel):
    url = f"{BASE}/{alice_channel['id']}"
    response = alice_api.put(url, {"config": {"chat_id": "not valid!"}}, format="json")
    assert response.status_code == 422
    assert "config.chat_id" in response.json()["errors"]
    cleared = alice_api.put(url, {"config": {"bot_token": None}}, format="json")
    assert cleared.status_code == 422
    assert "config.bot_token" in cleared.json()["errors"]


def test_the_type_cannot_change(alice_api, alice_channel):
    url = f"{BASE}/{alice_channel['id']}"
    response = alice_api.put(url, {"channel_type": "email"}, format="json")
    assert response.status_code == 422
    assert "channel_type" in response.json()["errors"]
    assert alice_api.put(url, {"channel_type": "telegram"}, format="json").status_code == 200


def test_undecryptable_settings_report_instead_of_failing(alice_api, alice_channel, settings):
    settings.SECRET_KEY = "a-completely-different-secret-" + "z" * 40
    url = f"{BASE}/{alice_channel['id']}"
    (row,) = alice_api.get(BASE).json()
    assert row["config_valid"] is False
    assert "Enter the channel's settings again" in row["config_error"]
    detail = alice_api.get(url).json()
    assert detail["config_masked"] == {}
    partial = alice_api.put(url, {"config": {"chat_id": "1234567"}}, format="json")
    assert partial.status_code == 422  # the bot token must be entered again
    fixed = alice_api.put(url, {"config": CONFIGS["telegram"]}, format="json")
    assert fixed.status_code == 200
    assert (fixed.json()["config_valid"], fixed.json()["config_error"]) == (True, None)


def test_delete_is_204_and_history_keeps_the_channel_name(alice_api, alice, alice_channel):
    channel = NotificationChannel.objects.get(pk=alice_channel["id"])
    Delivery.objects.create(
        user=alice, channel=channel, channel_name=channel.name, event_type="x", title="t"
    )
    response = alice_api.delete(f"{BASE}/{alice_channel['id']}")
    assert response.status_code == 204
    assert alice_api.get(f"{BASE}/{alice_channel['id']}").status_code == 404
    (delivery,) = Delivery.objects.all()
    assert (delivery.channel_id, delivery.channel_name) == (None, "My telegram")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "x", "channel_type": "sms", "config": {}},
        {"name": "x", "channel_type": "telegram"},
        {"name": "x", "channel_type": "telegram", "config": []},
        {"name": "x", "channel_type": "telegram", "config": "bot_token=1"},
        {"name": "x", "channel_type": "telegram", "config": {"chat_id": "1"}},
        {"name": "x", "channel_type": "telegram", "config": {"bot_token": 5, "chat_id": []}},
        {"name": "x" * 101, "channel_type": "telegram", "config": CONFIGS["telegram"]},
        {"name": "", "channel_type": "telegram", "config": CONFIGS["telegram"]},
        {"name": ["x"], "channel_type": {"a": 1}, "config": {"bot_token": {"x": 1}}},
        {"name": "x", "channel_type": "t" * 100_000, "config": {}},
        {
            "name": "x",
            "channel_type": "webhook",
            "config": {"url": "http://h.org/" + "a" * 100_000},
        },
        {
            "name": "x",
            "channel_type": "email",
            "config": {**CONFIGS["email"], "smtp_port": 10**100},
        },
        {"name": "x\x00", "channel_type": "telegram", "config": CONFIGS["telegram"]},
        {
            "name": "x",
            "channel_type": "telegram",
            "config": {**CONFIGS["telegram"], "chat_id": "\x00"},
        },
        {"name": "x", "channel_type": "ntfy", "config": {"topic": "t", "priority": "loud"}},
        {"name": "x", "channel_type": "webhook", "config": {"url": "http://[::1"}},
        {"name": "x", "channel_type": "gotify", "config": {"server_url": "https://x:99999"}},
        {
            "name": "x",
            "channel_type": "telegram",
            "config": CONFIGS["telegram"],
            "is_enabled": "maybe",
        },
    ],
)
def test_bad_create_bodies_are_4xx_and_name_the_field(alice_api, body):
    response = alice_api.post(BASE, body, format="json")
    assert 400 <= response.status_code < 500, response.content[:300]
    payload = response.json()
    assert payload["status"] == "error" and payload["message"]
    assert len(response.content) < 5000  # a huge input is never echoed back
    assert NotificationChannel.objects.count() == 0


@pytest.mark.parametrize("body", [[], "just text", 5])
def test_junk_bodies_are_4xx(alice_api, alice_channel, body):
    url = f"{BASE}/{alice_channel['id']}"
    for response in (
        alice_api.post(BASE, body, format="json"),
        alice_api.put(url, body, format="json"),
        alice_api.post(f"{url}/test", body, format="json"),
    ):
        assert 400 <= response.status_code < 500, response.content[:300]


def test_an_empty_update_changes_nothing(alice_api, alice_channel):
    url = f"{BASE}/{alice_channel['id']}"
    assert alice_api.put(url, None, format="json").json() == alice_api.get(url).json()
    assert alice_api.post(BASE, None, format="json").status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"config": []},
        {"config": {"bot_token": ["x"]}},
        {"name": None},
        {"name": "y" * 1000},
        {"is_enabled": {"x": 1}},
        {"channel_type": ["telegram"]},
        {"config": {"chat_id": "9" * 10_000}},
    ],
)
def test_bad_update_bodies_are_4xx_and_change_nothing(alice_api, alice_channel, body):
    url = f"{BASE}/{alice_channel['id']}"
    before = NotificationChannel.objects.get(pk=alice_channel["id"])
    response = alice_api.put(url, body, format="json")
    assert 400 <= response.status_code < 500, response.content[:300]
    after = NotificationChannel.objects.get(pk=alice_channel["id"])
    assert (after.name, after.config_encrypted) == (before.name, before.config_encrypted)
