"""Fixtures for notification tests: real loopback peers (see sinks.py), never mocks.

- `http_sink`: an HttpSink (records requests; `respond(status, body, delay=..., path=...)`).
- `smtp_sink`: an SmtpSink without login; `smtp_sink_login` one that requires the user
  `SMTP_USER` with the password `SMTP_PASSWORD`.
- `services_to_sink`: points Apprise's Telegram, Discord, Slack and Pushover plugins at
  `http_sink` (their API base is a class attribute), so those types send real requests there
  under /telegram/, /discord/, /slack/ and /pushover/. Webhook, ntfy and gotify channels need
  no redirect: give them `http_sink.url` as their server or URL.
- `refused_url`: an http URL on a loopback port nothing listens on.
"""

from __future__ import annotations

import pytest

from notifications.tests.sinks import HttpSink, SmtpSink, free_port

SMTP_USER = "mailer@example.org"
SMTP_PASSWORD = "smtp-Pa55-never-shown"


@pytest.fixture
def http_sink():
    with HttpSink() as sink:
        yield sink


@pytest.fixture
def smtp_sink():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def smtp_sink_login():
    with SmtpSink(user=SMTP_USER, password=SMTP_PASSWORD) as sink:
        yield sink


@pytest.fixture
def services_to_sink(http_sink, monkeypatch):
    from apprise.plugins.discord import NotifyDiscord
    from apprise.plugins.pushover import NotifyPushover
    from apprise.plugins.slack import NotifySlack
    from apprise.plugins.telegram import NotifyTelegram

    monkeypatch.setattr(NotifyTelegram, "notify_url", f"{http_sink.url}/telegram/bot")
    monkeypatch.setattr(NotifyDiscord, "notify_url", f"{http_sink.url}/discord")
    monkeypatch.setattr(NotifySlack, "webhook_url", f"{http_sink.url}/slack/services")
    monkeypatch.setattr(NotifyPushover, "notify_url", f"{http_sink.url}/pushover/1/messages.json")
    return http_sink


@pytest.fixture
def refused_url():
    return f"http://127.0.0.1:{free_port()}"
