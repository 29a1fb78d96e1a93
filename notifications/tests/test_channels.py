"""The channel-type registry: checks per type, masking, merging an update, stored settings."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from rest_framework.exceptions import ValidationError

from notifications import channels
from notifications.models import ChannelType, NotificationChannel

BOT = "123456789:AAHsecretTokenPart_xyz-0987"

VALID = {
    "email": {
        "smtp_host": "smtp.example.org",
        "smtp_port": "465",
        "smtp_user": "mailer@example.org",
        "smtp_password": "Pa55-word...with-dots-is-fine-on-create",
        "from_email": "medikeep@example.org",
        "to_email": "alice@example.org",
        "use_tls": True,
    },
    "telegram": {"bot_token": BOT, "chat_id": 123456789},
    "discord": {"webhook_url": "https://discord.com/api/webhooks/1122334455/tok_EN-abcdef123"},
    "slack": {"webhook_url": "https://hooks.slack.com/services/T0AAAA11/B0BBBB22/abcdefgh12345"},
    "webhook": {"url": "http://hooks.lan:8080/in?sig=abc", "method": "put", "auth_token": "b-tok"},
    "pushover": {"user_key": "u" * 30, "api_token": "a" * 30},
    "ntfy": {"topic": "alice_meds", "priority": "high"},
    "gotify": {"server_url": "https://push.example.org/gotify/", "app_token": "AbC.123"},
}


def test_every_model_choice_has_a_registry_entry():
    assert set(channels.CHANNEL_TYPES) == set(ChannelType.values)


@pytest.mark.parametrize("channel_type", sorted(VALID))
def test_valid_settings_are_cleaned_and_build_an_apprise_url(channel_type):
    cleaned = channels.validate_config(channel_type, {**VALID[channel_type], "junk": 1})
    assert "junk" not in cleaned
    url = channels.apprise_url(channel_type, cleaned)
    assert "://" in url


def test_cleaning_fills_defaults_and_coerces():
    assert channels.validate_config("email", VALID["email"])["smtp_port"] == 465
    assert channels.validate_config("telegram", VALID["telegram"])["chat_id"] == "123456789"
    assert channels.validate_config("webhook", VALID["webhook"])["method"] == "PUT"
    ntfy = channels.validate_config("ntfy", VALID["ntfy"])
    assert ntfy == {"server_url": "https://ntfy.sh", "topic": "alice_meds", "priority": 4}
    gotify = channels.validate_config("gotify", VALID["gotify"])
    assert (gotify["server_url"], gotify["priority"]) == ("https://push.example.org/gotify", 5)
    minimal = {k: VALID["email"][k] for k in ("smtp_host", "from_email", "to_email")}
    assert channels.validate_config("email", minimal) == {
        **minimal,
        "smtp_port": 587,
        "use_tls": True,
    }


@pytest.mark.parametrize(
    ("channel_type", "config", "key"),
    [
        ("email", {**VALID["email"], "smtp_port": 70000}, "smtp_port"),
        ("email", {**VALID["email"], "smtp_port": "twenty"}, "smtp_port"),
        ("email", {**VALID["email"], "to_email": "not-an-address"}, "to_email"),
        ("email", {**VALID["email"], "smtp_host": "bad host!"}, "smtp_host"),
        ("email", {**VALID["email"], "use_tls": "perhaps"}, "use_tls"),
        ("email", {**VALID["email"], "smtp_user": ""}, "smtp_user"),  # a password needs a user
        ("email", {"smtp_host": "h.example.org", "to_email": "a@b.org"}, "from_email"),
        ("telegram", {"chat_id": "1"}, "bot_token"),
        ("telegram", {"bot_token": "just-a-word", "chat_id": "1"}, "bot_token"),
        ("telegram", {"bot_token": BOT, "chat_id": "a b"}, "chat_id"),
        ("telegram", {"bot_token": BOT, "chat_id": {"x": 1}}, "chat_id"),
        ("discord", {"webhook_url": "https://evil.example.org/api/webhooks/1/x"}, "webhook_url"),
        ("slack", {"webhook_url": "http://hooks.slack.com/services/a/b/c"}, "webhook_url"),
        ("webhook", {"url": "ftp://files.example.org/x"}, "url"),
        ("webhook", {"url": "http://user:pw@example.org/x"}, "url"),
        ("webhook", {"url": "http://example.org/x", "method": "TRACE"}, "method"),
        ("webhook", {"url": ["http://example.org"]}, "url"),
        ("pushover", {"user_key": "short", "api_token": "a" * 30}, "user_key"),
        ("ntfy", {"topic": "has space"}, "topic"),
        ("ntfy", {"topic": "t", "server_url": "https://ntfy.example.org/sub"}, "server_url"),
        ("ntfy", {"topic": "t", "priority": 9}, "priority"),
        (
            "gotify",
            {"server_url": "https://g.example.org", "app_token": "x", "priority": 11},
            "priority",
        ),
        ("gotify", {"server_url": "not a url", "app_token": "AbC.123"}, "server_url"),
        ("webhook", {"url": "http://example.org/" + "x" * 5000}, "url"),
        ("webhook", {"url": "http://example.org/\x00"}, "url"),
    ],
)
def test_bad_settings_name_the_key(channel_type, config, key):
    with pytest.raises(ValidationError) as caught:
        channels.validate_config(channel_type, config)
    assert key in caught.value.detail, caught.value.detail


def test_messages_never_echo_a_secret():
    with pytest.raises(ValidationError) as caught:
        channels.validate_config("telegram", {"bot_token": "secret-but-wrong-shape", "chat_id": 1})
    assert "secret-but-wrong-shape" not in str(caught.value.detail)


@pytest.mark.parametrize("config", [None, [], "x", 5])
def test_settings_must_be_an_object(config):
    with pytest.raises(ValidationError):
        channels.validate_config("webhook", config)


@pytest.mark.parametrize("channel_type", ["sms", "", None, 5, "EMAIL"])
def test_unknown_types_are_refused(channel_type):
    with pytest.raises(ValidationError) as caught:
        channels.validate_config(channel_type, {})
    assert "channel_type" in caught.value.detail


# ---------------------------------------------------------------- masking and merging


def test_masking_shows_ids_partly_hides_secrets_and_every_masked_value_has_dots():
    shown = channels.mask_config("telegram", {"bot_token": BOT, "chat_id": "123456789"})
    assert shown == {"bot_token": "...hidden...", "chat_id": "123...789"}
    email = channels.mask_config("email", channels.validate_config("email", VALID["email"]))
    assert email["smtp_password"] == "...hidden..."
    assert email["smtp_user"] == "ma...@example.org"
    assert email["to_email"] == "al...@example.org"
    assert (email["smtp_host"], email["smtp_port"], email["use_tls"]) == (
        "smtp.example.org",
        465,
        True,
    )
    webhook = channels.mask_config("webhook", channels.validate_config("webhook", VALID["webhook"]))
    assert webhook == {
        "url": "http://hooks.lan:8080/...",
        "method": "PUT",
        "auth_token": "...hidden...",
    }
    discord = channels.mask_config("discord", VALID["discord"])
    assert discord == {"webhook_url": "https://discord.com/..."}
    assert channels.mask_config("telegram", {"bot_token": BOT, "chat_id": "42"})["chat_id"] == "..."


@pytest.mark.parametrize("channel_type", sorted(VALID))
def test_no_secret_survives_masking(channel_type):
    config = channels.validate_config(channel_type, VALID[channel_type])
    shown = channels.mask_config(channel_type, config)
    masks = channels.CHANNEL_TYPES[channel_type].config.masks
    for key in masks:
        if key in config:
            assert "..." in shown[key]
            assert config[key] not in str(shown)


def test_merge_keeps_masked_values_clears_blanks_and_takes_new_ones():
    stored = channels.validate_config("webhook", VALID["webhook"])
    shown = channels.mask_config("webhook", stored)
    # The web app sends back what it showed, with one real change.
    merged = channels.merge_config("webhook", stored, {**shown, "method": "POST"})
    assert merged == {**stored, "method": "POST"}
    cleared = channels.merge_config("webhook", stored, {"auth_token": ""})
    assert "auth_token" not in cleared
    changed = channels.merge_config("webhook", stored, {"auth_token": "new-token"})
    assert changed["auth_token"] == "new-token"


def test_merge_takes_a_plain_value_with_dots_as_given():
    stored = {"smtp_host": "a.example.org"}
    merged = channels.merge_config("email", stored, {"smtp_host": "b...example.org"})
    assert merged["smtp_host"] == "b...example.org"  # and validation will refuse it


def test_redactions_cover_secrets_their_pieces_and_partial_ids():
    pairs = dict(channels.redactions("telegram", {"bot_token": BOT, "chat_id": "987654321"}))
    assert pairs[BOT] == pairs[BOT.split(":")[1]] == "[hidden]"
    assert pairs["987654321"] == "987...321"
    lengths = [len(text) for text, _ in channels.redactions("webhook", VALID["webhook"])]
    assert lengths == sorted(lengths, reverse=True)
    webhook = dict(
        channels.redactions("webhook", {"url": "https://h.example.org/p/SeCrEt99?k=v4lue1"})
    )
    assert webhook["SeCrEt99"] == webhook["v4lue1"] == "[hidden]"
    assert "h.example.org" not in webhook


# ---------------------------------------------------------------- stored settings


@pytest.fixture
def stored_channel(alice):
    channel = NotificationChannel(user=alice, name="Phone", channel_type="telegram")
    channels.store_config(channel, {"bot_token": BOT, "chat_id": "123456789"})
    channel.save()
    return channel


def test_stored_settings_are_encrypted_and_read_back(stored_channel):
    assert BOT not in stored_channel.config_encrypted
    assert channels.channel_config(stored_channel)["bot_token"] == BOT
    assert channels.config_status(stored_channel) == (True, None)


def test_settings_no_key_opens_ask_to_be_entered_again(stored_channel, settings):
    settings.SECRET_KEY = "a-different-secret-key-" + "y" * 40
    valid, error = channels.config_status(stored_channel)
    assert valid is False
    assert "Enter the channel's settings again" in error


def test_settings_that_no_longer_pass_the_checks_say_why(stored_channel):
    channels.store_config(stored_channel, {"chat_id": "1"})
    assert channels.config_status(stored_channel) == (False, "bot_token: This field is required.")


def test_reencrypt_moves_rows_to_the_first_key(stored_channel, settings):
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [new]
    rows = NotificationChannel.objects.all()
    assert channels.reencrypt(rows) == 1
    stored_channel.refresh_from_db()
    Fernet(new).decrypt(stored_channel.config_encrypted.encode())
    assert channels.reencrypt(NotificationChannel.objects.all()) == 0
