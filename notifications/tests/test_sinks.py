"""The loopback peers other notification tests rely on record and misbehave as documented."""

import smtplib
import time

import pytest
import requests

from notifications.tests.conftest import SMTP_PASSWORD, SMTP_USER


def test_http_sink_records_method_path_headers_and_body(http_sink):
    answer = requests.put(
        f"{http_sink.url}/hook/a?x=1", json={"k": "v"}, headers={"X-Thing": "yes"}, timeout=5
    )
    assert (answer.status_code, answer.text) == (200, "ok")
    (seen,) = http_sink.requests
    assert (seen.method, seen.path, seen.route, seen.query) == (
        "PUT",
        "/hook/a?x=1",
        "/hook/a",
        {"x": "1"},
    )
    assert seen.headers["x-thing"] == "yes"
    assert seen.json() == {"k": "v"}


def test_http_sink_answers_as_told_per_path_and_times(http_sink):
    http_sink.respond(500, {"error": "boom"}, path="/bad", times=1)
    first = requests.post(f"{http_sink.url}/bad", timeout=5)
    second = requests.post(f"{http_sink.url}/bad", timeout=5)
    other = requests.post(f"{http_sink.url}/good", timeout=5)
    assert (first.status_code, first.json()) == (500, {"error": "boom"})
    assert (second.status_code, other.status_code) == (200, 200)
    assert len(http_sink.wait_for(3)) == 3


def test_http_sink_delay_makes_a_client_time_out(http_sink):
    http_sink.respond(200, delay=1.0)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(http_sink.url, timeout=0.2)
    assert time.monotonic() - started < 1.0


def test_refused_url_refuses(refused_url):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(refused_url, timeout=2)


def test_smtp_sink_records_messages_and_can_refuse(smtp_sink):
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5) as client:
        client.sendmail("a@example.org", ["b@example.org"], "Subject: Hi\r\n\r\nBody text\r\n")
        smtp_sink.refuse("554 No thanks")
        with pytest.raises(smtplib.SMTPDataError):
            client.sendmail("a@example.org", ["b@example.org"], "Subject: Again\r\n\r\nx\r\n")
    (mail,) = smtp_sink.wait_for(1)
    assert (mail.mail_from, mail.rcpt_tos, mail.subject) == (
        "a@example.org",
        ["b@example.org"],
        "Hi",
    )
    assert "Body text" in mail.text


def test_smtp_sink_with_login_requires_the_right_password(smtp_sink_login):
    with smtplib.SMTP(smtp_sink_login.host, smtp_sink_login.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(SMTP_USER, "wrong")
        client.login(SMTP_USER, SMTP_PASSWORD)
        client.sendmail("a@example.org", ["b@example.org"], "Subject: In\r\n\r\nx\r\n")
    assert set(smtp_sink_login.logins) == {SMTP_USER}  # smtplib tries each mechanism
    assert [m.subject for m in smtp_sink_login.wait_for(1)] == ["In"]
