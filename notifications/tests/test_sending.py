"""sending.send: every channel type sends a real request to a loopback peer; failures come back
as ok=False with a readable error that holds no secret, and no log line holds one either."""

from __future__ import annotations

import logging

import pytest

from notifications import sending
from notifications.tests.conftest import SMTP_PASSWORD, SMTP_USER

BOT_TOKEN = "123456789:AAHsecretTokenPart_xyz-0987"
DISCORD_TOKEN = "discordSecretToken_abc-123456"
SLACK_TOKEN_C = "slackSecretC0ffee123456"
PUSHOVER_USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
PUSHOVER_TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
WEBHOOK_BEARER = "whk-bearer-secret-5566"
WEBHOOK_SIGNATURE = "sigsecret778899"
NTFY_TOKEN = "tk_ntfysecretvalue01"
GOTIFY_TOKEN = "AgotifySecret.42"

SECRETS = [
    BOT_TOKEN,
    BOT_TOKEN.split(":")[1],
    DISCORD_TOKEN,
    SLACK_TOKEN_C,
    PUSHOVER_TOKEN,
    WEBHOOK_BEARER,
    WEBHOOK_SIGNATURE,
    NTFY_TOKEN,
    GOTIFY_TOKEN,
    SMTP_PASSWORD,
]


def config_for(channel_type, sink, smtp=None):
    """Settings of each type that reach the loopback peers (see conftest.services_to_sink)."""
    return {
        "telegram": {"bot_token": BOT_TOKEN, "chat_id": "987654321"},
        "discord": {
            "webhook_url": f"https://discord.com/api/webhooks/112233445566/{DISCORD_TOKEN}"
        },
        "slack": {
            "webhook_url": f"https://hooks.slack.com/services/T0AAAA11/B0BBBB22/{SLACK_TOKEN_C}"
        },
        "pushover": {"user_key": PUSHOVER_USER, "api_token": PUSHOVER_TOKEN},
        "webhook": {
            "url": f"{sink.url}/hooks/meds?sig={WEBHOOK_SIGNATURE}",
            "method": "post",
            "auth_token": WEBHOOK_BEARER,
        },
        "ntfy": {"server_url": sink.url, "topic": "alice_meds", "auth_token": NTFY_TOKEN},
        "gotify": {"server_url": f"{sink.url}/gotify/", "app_token": GOTIFY_TOKEN, "priority": 8},
        "email": smtp
        and {
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_user": SMTP_USER,
            "smtp_password": SMTP_PASSWORD,
            "from_email": "medikeep@example.org",
            "to_email": "alice@example.org",
            "use_tls": False,
        },
    }[channel_type]


HTTP_TYPES = ["telegram", "discord", "slack", "pushover", "webhook", "ntfy", "gotify"]


def assert_no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into {text[:300]!r}"


def test_telegram_posts_to_the_bot_api(services_to_sink):
    sink = services_to_sink
    result = sending.send(
        "telegram", config_for("telegram", sink), title="Aspirin", body="Take 1 <tablet>"
    )
    assert result == sending.SendResult(True, None)
    (seen,) = sink.requests
    assert (seen.method, seen.route) == ("POST", f"/telegram/bot{BOT_TOKEN}/sendMessage")
    payload = seen.json()
    assert payload["chat_id"] == 987654321
    assert "Aspirin" in payload["text"] and "Take 1 \u2039tablet\u203a" in payload["text"]


def test_discord_and_slack_post_to_their_webhooks(services_to_sink):
    sink = services_to_sink
    assert sending.send("discord", config_for("discord", sink), title="T1", body="B1").ok
    assert sending.send("slack", config_for("slack", sink), title="T2", body="B2").ok
    discord, slack = sink.requests
    assert discord.route == f"/discord/112233445566/{DISCORD_TOKEN}"
    assert "T1" in discord.json()["content"] and "B1" in discord.json()["content"]
    assert slack.route == f"/slack/services/T0AAAA11/B0BBBB22/{SLACK_TOKEN_C}"
    attachment = slack.json()["attachments"][0]
    assert (attachment["title"], attachment["text"]) == ("T2", "B2")


def test_pushover_posts_the_keys_as_a_form(services_to_sink):
    sink = services_to_sink
    assert sending.send("pushover", config_for("pushover", sink), title="T", body="B").ok
    (seen,) = sink.requests
    form = seen.form()
    assert seen.route == "/pushover/1/messages.json"
    assert (form["user"], form["token"], form["title"], form["message"]) == (
        PUSHOVER_USER,
        PUSHOVER_TOKEN,
        "T",
        "B",
    )


def test_webhook_sends_json_with_bearer_query_method_and_delivery_key(http_sink):
    config = {**config_for("webhook", http_sink), "method": "PUT"}
    result = sending.send("webhook", config, title="T", body="B", idempotency_key="reminder:7:x:3")
    assert result.ok, result.error
    (seen,) = http_sink.requests
    assert (seen.method, seen.route, seen.query) == (
        "PUT",
        "/hooks/meds",
        {"sig": WEBHOOK_SIGNATURE},
    )
    assert seen.headers["authorization"] == f"Bearer {WEBHOOK_BEARER}"
    assert seen.headers["x-medikeep-delivery"] == "reminder:7:x:3"
    assert seen.headers["user-agent"] == "MediKeep"
    assert {key: seen.json()[key] for key in ("title", "message")} == {"title": "T", "message": "B"}


def test_webhook_without_a_key_or_token_sends_neither_header(http_sink):
    assert sending.send("webhook", {"url": f"{http_sink.url}/plain"}, title="T", body="B").ok
    (seen,) = http_sink.requests
    assert (seen.method, seen.route) == ("POST", "/plain")
    assert "authorization" not in seen.headers and "x-medikeep-delivery" not in seen.headers


def test_ntfy_publishes_to_the_topic_with_token_and_priority(http_sink):
    config = {**config_for("ntfy", http_sink), "priority": 5}
    assert sending.send("ntfy", config, title="T", body="B").ok
    (seen,) = http_sink.requests
    assert seen.json() == {"topic": "alice_meds", "title": "T", "message": "B"}
    assert seen.headers["authorization"] == f"Bearer {NTFY_TOKEN}"
    assert seen.headers["x-priority"] == "max"


def test_gotify_posts_a_message_under_the_server_path_with_the_exact_priority(http_sink):
    assert sending.send("gotify", config_for("gotify", http_sink), title="T", body="B").ok
    (seen,) = http_sink.requests
    assert seen.route == "/gotify/message"
    assert seen.headers["x-gotify-key"] == GOTIFY_TOKEN
    assert seen.json() == {"priority": 8, "title": "T", "message": "B"}


def test_email_goes_through_smtp_with_login(smtp_sink_login, http_sink):
    config = config_for("email", http_sink, smtp_sink_login)
    result = sending.send("email", config, title="Aspirin due", body="Take one now.")
    assert result.ok, result.error
    (mail,) = smtp_sink_login.wait_for(1)
    assert mail.rcpt_tos == ["alice@example.org"]
    assert mail.mail_from == "medikeep@example.org"
    assert mail.subject == "Aspirin due"
    assert "Take one now." in mail.text
    assert SMTP_USER in smtp_sink_login.logins


def test_email_without_login_to_a_plain_relay(smtp_sink, http_sink):
    config = {
        "smtp_host": smtp_sink.host,
        "smtp_port": smtp_sink.port,
        "from_email": "medikeep@example.org",
        "to_email": "bob@example.org",
        "use_tls": False,
    }
    assert sending.send("email", config, title="Hi", body="There").ok
    assert [m.rcpt_tos for m in smtp_sink.wait_for(1)] == [["bob@example.org"]]


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("channel_type", HTTP_TYPES)
def test_a_service_answering_500_is_a_failure_with_a_clean_error(
    channel_type, services_to_sink, caplog
):
    caplog.set_level(1)  # everything, Apprise's TRACE and urllib3's DEBUG included
    sink = services_to_sink
    config = config_for(channel_type, sink)
    own = " ".join(secret for secret in SECRETS if secret in str(config))
    sink.respond(500, {"description": f"boom, you sent {own}"})  # a service echoing secrets
    result = sending.send(channel_type, config, title="T", body="B")
    assert result.ok is False
    assert "500" in result.error
    assert len(sink.requests) == 1  # it really tried
    assert_no_secret(result.error, caplog.text, *(r.getMessage() for r in caplog.records))
    assert sink.url not in result.error  # no full target URL either


@pytest.mark.parametrize("channel_type", HTTP_TYPES)
def test_a_refused_connection_is_a_failure_with_a_clean_error(
    channel_type, services_to_sink, refused_url, monkeypatch, caplog
):
    caplog.set_level(1)
    from notifications.tests.sinks import free_port

    # Point the service APIs at a port nothing listens on.
    port = free_port()
    for cls_path, attr, suffix in (
        ("apprise.plugins.telegram.NotifyTelegram", "notify_url", "/bot"),
        ("apprise.plugins.discord.NotifyDiscord", "notify_url", ""),
        ("apprise.plugins.slack.NotifySlack", "webhook_url", ""),
        ("apprise.plugins.pushover.NotifyPushover", "notify_url", "/1/messages.json"),
    ):
        monkeypatch.setattr(f"{cls_path}.{attr}", f"http://127.0.0.1:{port}{suffix}")

    class Gone:
        url = refused_url

    result = sending.send(channel_type, config_for(channel_type, Gone), title="T", body="B")
    assert result.ok is False
    assert "connection refused" in result.error.lower()
    assert_no_secret(result.error, caplog.text)
    assert "/hooks/meds" not in result.error and "/gotify" not in result.error


def test_a_slow_service_times_out(http_sink):
    http_sink.respond(200, delay=1.5)
    result = sending.send(
        "webhook", config_for("webhook", http_sink), title="T", body="B", timeout=0.3
    )
    assert result.ok is False
    assert "timed out" in result.error
    assert_no_secret(result.error)


def test_an_smtp_refusal_and_a_wrong_password_are_failures(smtp_sink_login, http_sink, caplog):
    caplog.set_level(1)
    config = config_for("email", http_sink, smtp_sink_login)
    wrong = sending.send(
        "email", {**config, "smtp_password": "Wrong-Pa55-word"}, title="T", body="B"
    )
    assert wrong.ok is False and "authentication failed" in wrong.error
    assert "Wrong-Pa55-word" not in wrong.error + caplog.text

    smtp_sink_login.refuse("554 5.7.1 Message rejected")
    refused = sending.send("email", config, title="T", body="B")
    assert refused.ok is False and refused.error
    assert smtp_sink_login.messages == []
    assert_no_secret(wrong.error, refused.error, caplog.text)


def test_nothing_listening_for_smtp(http_sink):
    from notifications.tests.sinks import free_port

    class Nowhere:
        host, port = "127.0.0.1", free_port()

    result = sending.send(
        "email", config_for("email", http_sink, Nowhere), title="T", body="B", timeout=2
    )
    assert result.ok is False
    assert "connection refused" in result.error.lower()
    assert SMTP_PASSWORD not in result.error


@pytest.mark.parametrize(
    ("channel_type", "config", "named"),
    [
        ("telegram", {"chat_id": "1"}, "bot_token"),
        ("telegram", {"bot_token": BOT_TOKEN[:-3] + "!!!", "chat_id": "1"}, "bot_token"),
        ("gotify", {"server_url": "ftp://x", "app_token": GOTIFY_TOKEN}, "server_url"),
        ("nope", {}, "channel_type"),
        ("webhook", ["not", "a", "dict"], "config"),
    ],
)
def test_invalid_settings_fail_before_any_request(channel_type, config, named, http_sink):
    result = sending.send(channel_type, config, title="T", body="B")
    assert result.ok is False
    assert result.error.startswith("Channel configuration is invalid")
    assert named in result.error or "object" in result.error
    assert http_sink.requests == []
    assert_no_secret(result.error)


def test_records_outside_a_send_lose_url_paths_and_credentials(caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("apprise").warning(
        "posting to %s failed", "https://user:pw@hooks.example.org/services/SECRETPATH?k=v"
    )
    (record,) = [r for r in caplog.records if r.name == "apprise"]
    assert record.getMessage() == "posting to https://hooks.example.org/... failed"


def test_scrub_replaces_given_values_and_cuts_urls():
    text = "token abc123456 at http://h:8080/x/abc123456 and mailto://u:p@host"
    assert sending.scrub(text, [("abc123456", "[hidden]")]) == (
        "token [hidden] at http://h:8080/... and mailto://host"
    )
