"""Two web servers on one PostgreSQL and one Redis behave as one server (run by .ci/run).

"Outgrowing one machine" (docs/deploy.md): several web processes or machines share the
database and Redis, and nothing that decides who may do what lives in one process's memory.
Two servers are started here exactly as a deployment starts them (`deploy/medikeep web`), each
with its own MEDIKEEP_VAR_DIR, so they share nothing on disk either: only the database, Redis
and the secrets. Every request is real HTTP over loopback, alternating between the two ports.

The servers run from MEDIKEEP_TEST_SERVER_PYTHON when set (.ci/deploy-check points it at a
clean virtual environment holding requirements.txt only), otherwise from this interpreter.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connection

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RATE_LIMIT = 6  # the standard scope's budget per user on both servers
LOCK_AFTER = 3  # failed sign-ins to one account before its back-off starts
PASSWORD = "Shared-state-2-servers"


def _requirements_missing() -> str | None:
    if not os.environ.get("REDIS_URL"):
        return "REDIS_URL is not set: the servers must share a Redis"
    if connection.vendor != "postgresql":
        return "DATABASE_URL does not name PostgreSQL: the servers must share the test database"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict

    @property
    def remaining(self) -> int:
        return int(self.headers["x-ratelimit-remaining"])


def call(port: int, method: str, path: str, *, token: str = "", form: dict | None = None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    return Answer(status, {k.lower(): v for k, v in headers.items()}, json.loads(raw or b"{}"))


class Server:
    """One `deploy/medikeep web` process (serve → granian) on its own port and var folder."""

    def __init__(self, port: int, env: dict, log_dir: Path):
        self.port = port
        self.var_dir = tempfile.mkdtemp(prefix=f"medikeep-two-servers-{port}-")
        self.log = open(log_dir / f"server-{port}.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            ["deploy/medikeep", "web"],
            cwd=Path(settings.BASE_DIR),
            env={**env, "MEDIKEEP_VAR_DIR": self.var_dir, "MEDIKEEP_BIND": f"127.0.0.1:{port}"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            # Its own process group: granian's workers go with it if serve itself is killed.
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"server {self.port} exited: {self.output()}"
            try:
                if call(self.port, "GET", "/health").status == 200:
                    return
            except (OSError, ValueError):
                pass
            assert time.monotonic() < deadline, f"server {self.port} not up: {self.output()}"
            time.sleep(0.25)

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # serve stops granian and waits for it
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.var_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def two_servers(django_db_setup, tmp_path_factory):
    missing = _requirements_missing()
    if missing:
        pytest.skip(missing)
    db = connection.settings_dict
    python = os.environ.get("MEDIKEEP_TEST_SERVER_PYTHON") or sys.executable
    env = {
        **os.environ,
        # `python` in deploy/medikeep is the server's interpreter, as on a deployed machine.
        "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/"
        f"{db['NAME']}",
        # What several machines must share besides the database and Redis: the secrets.
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "API_RATE_STANDARD": f"{RATE_LIMIT}/hour",
        "API_RATE_AUTH": "1000/min",
        "LOGIN_LOCK_AFTER": str(LOCK_AFTER),
        "LOGIN_LOCK_SECONDS": "600",
        "WEB_WORKERS": "1",
        "WEB_ACCESS_LOG": "false",
        "CELERY_TASK_ALWAYS_EAGER": "true",  # no worker here: sign-in side jobs run inline
    }
    env.pop("MEDIKEEP_VAR_DIR", None)
    log_dir = tmp_path_factory.mktemp("two-servers")
    servers = []
    try:
        for _ in range(2):
            servers.append(Server(_free_port(), env, log_dir))
        for server in servers:
            server.wait_ready()
        yield [server.port for server in servers]
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def member(make_user):
    """A user whose password the servers can check (the test settings hash with MD5, which
    the servers do not accept)."""
    hasher = Argon2PasswordHasher()
    user = make_user(username="shared-state")
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


def sign_in(port: int) -> str:
    answer = call(
        port, "POST", "/api/v1/auth/login", form={"username": "shared-state", "password": PASSWORD}
    )
    assert answer.status == 200, answer.body
    return answer.body["access_token"]


def test_a_rate_limit_counts_requests_to_both_servers(two_servers, member):
    first, second = two_servers
    token = sign_in(first)
    for _attempt in range(2):  # a second go only if the hour's window turned over meanwhile
        answers = []
        for number in range(RATE_LIMIT + 1):
            port = two_servers[number % 2]
            answers.append(call(port, "GET", "/api/v1/users/me", token=token))
        if len({answer.headers.get("x-ratelimit-reset") for answer in answers}) == 1:
            break
    allowed, refused = answers[:-1], answers[-1]
    # Each server on its own would have allowed RATE_LIMIT requests; together they allow
    # RATE_LIMIT in all, and the budget left counts down across both.
    assert [a.status for a in allowed] == [200] * RATE_LIMIT
    remaining = [a.remaining for a in allowed]
    assert remaining == sorted(remaining, reverse=True)
    assert remaining[-1] == 0
    assert len(set(remaining)) == RATE_LIMIT
    assert refused.status == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.body["status"] == "error"
    # The budget is spent on the first server too, not just on the one that refused.
    assert call(first, "GET", "/api/v1/users/me", token=token).status == 429
    assert call(second, "GET", "/api/v1/users/me", token=token).status == 429


def test_signing_out_on_one_server_ends_the_session_on_the_other(two_servers, member):
    first, second = two_servers
    token = sign_in(first)
    assert call(second, "GET", "/api/v1/users/me", token=token).body["username"] == "shared-state"

    assert call(first, "POST", "/api/v1/auth/logout", token=token, form={}).status == 200

    refused = call(second, "GET", "/api/v1/users/me", token=token)
    assert refused.status == 401
    assert refused.body["status"] == "error"
    assert call(first, "GET", "/api/v1/users/me", token=token).status == 401
    # A new sign-in on the other server works: only that session ended.
    assert call(second, "GET", "/api/v1/users/me", token=sign_in(second)).status == 200


def test_the_sign_in_back_off_holds_on_both_servers(two_servers, member):
    wrong = {"username": "shared-state", "password": "not-the-password-1"}
    statuses = [
        call(two_servers[number % 2], "POST", "/api/v1/auth/login", form=wrong).status
        for number in range(LOCK_AFTER)
    ]
    assert statuses == [401] * LOCK_AFTER
    # Locked on both, even with the right password, whichever server counted the failures.
    right = {"username": "shared-state", "password": PASSWORD}
    for port in two_servers:
        locked = call(port, "POST", "/api/v1/auth/login", form=right)
        assert locked.status == 429
        assert int(locked.headers["retry-after"]) > 0
