"""Real peers on loopback for notification tests: an HTTP sink and an SMTP sink.

Both record everything they receive so a test can assert on what actually went over the wire,
and both can be told to misbehave (an HTTP status, a delay, an SMTP refusal). They run in a
daemon thread of the test process and listen on 127.0.0.1, so a Celery worker in another
process can reach them too. Fixtures that expose them live in notifications/tests/conftest.py.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A loopback port nothing listens on (right now): connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# ---------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Recorded:
    """One request as the sink received it. Header names are lower-cased."""

    method: str
    path: str  # path and query string, as sent
    headers: dict[str, str]
    body: bytes

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """The body as application/x-www-form-urlencoded fields (last value wins)."""
        return {key: values[-1] for key, values in parse_qs(self.text).items()}


@dataclass
class _Rule:
    status: int
    body: bytes
    delay: float
    headers: dict[str, str]
    path: str | None
    times: int | None  # None: forever


class HttpSink:
    """An HTTP server on 127.0.0.1 that records every request and answers as told.

    By default every request gets 200 with the body "ok" (Slack's webhook wants exactly that;
    the other services only look at the status). `respond(...)` changes the answer, for all
    paths or for paths starting with a prefix, forever or for the next `times` requests; the
    newest matching rule wins.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._rules: list[_Rule] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                rule = sink._take_rule(recorded.route)
                with sink._lock:
                    sink._requests.append(recorded)
                if rule.delay:
                    time.sleep(rule.delay)
                try:
                    self.send_response(rule.status)
                    for name, value in rule.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(rule.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(rule.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test); nothing to answer

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format, *args):  # keep test output quiet
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.host = "127.0.0.1"
        self.port = self._server.server_port
        self.url = f"http://{self.host}:{self.port}"

    def _take_rule(self, route: str) -> _Rule:
        with self._lock:
            for rule in reversed(self._rules):
                if rule.path is None or route.startswith(rule.path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return _Rule(200, b"ok", 0.0, {"Content-Type": "text/plain"}, None, None)

    def respond(
        self,
        status: int = 200,
        body: bytes | str | dict | list = b"ok",
        *,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer requests (under `path`, if given) with this status, body and delay."""
        content_type = "text/plain"
        if isinstance(body, (dict, list)):
            body, content_type = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            body = body.encode()
        with self._lock:
            self._rules.append(
                _Rule(
                    status,
                    body,
                    delay,
                    {"Content-Type": content_type, **(headers or {})},
                    path,
                    times,
                )
            )

    def reset(self) -> None:
        """Forget recorded requests and answer rules."""
        with self._lock:
            self._requests.clear()
            self._rules.clear()

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        """The requests once at least `count` have arrived; AssertionError after `timeout`."""
        if not _wait(lambda: len(self.requests) >= count, timeout):
            raise AssertionError(f"expected {count} request(s), got {len(self.requests)}")
        return self.requests

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: Message = field(repr=False)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """Every text part of the message, decoded and joined."""
        parts = self.message.walk() if self.message.is_multipart() else [self.message]
        chunks = []
        for part in parts:
            if part.get_content_maintype() == "text":
                payload = part.get_payload(decode=True) or b""
                chunks.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
        return "\n".join(chunks)


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that records every message.

    With `user` and `password`, it offers AUTH over the plain connection (as a test server may)
    and refuses mail from a client that did not log in with exactly those; `logins` records the
    user names tried. `refuse(...)` makes it answer DATA with an SMTP error instead.
    """

    def __init__(self, *, user: str | None = None, password: str | None = None):
        self.messages: list[Mail] = []
        self.logins: list[str] = []
        self._refusal: str | None = None
        self._credentials = (user, password) if user is not None else None
        self.host = "127.0.0.1"
        self.port = free_port()
        options = {}
        if self._credentials:
            # Login over plain SMTP on loopback: aiosmtpd warns about it; a test server may.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            options = {
                "auth_required": True,
                "auth_require_tls": False,
                "authenticator": self._authenticate,
            }
        self._controller = Controller(self, hostname=self.host, port=self.port, **options)
        self._controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        self.logins.append(login)
        ok = (login, auth_data.password.decode("utf-8", "replace")) == self._credentials
        # handled=False: aiosmtpd answers the refusal (535) itself.
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server, session, envelope):
        if self._refusal:
            return self._refusal
        self.messages.append(
            Mail(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                raw=envelope.content,
                message=message_from_bytes(envelope.content),
            )
        )
        return "250 Message accepted for delivery"

    def refuse(self, reply: str | None = "554 Transaction failed") -> None:
        """Answer DATA with this SMTP reply (None: accept again)."""
        self._refusal = reply

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Mail]:
        if not _wait(lambda: len(self.messages) >= count, timeout):
            raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
        return list(self.messages)

    def close(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
