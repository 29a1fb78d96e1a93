"""`manage.py serve` runs a web server that keeps connections alive."""

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_several_requests_on_one_connection(tmp_path):
    port = _free_port()
    env = {**os.environ, "MEDIKEEP_VAR_DIR": str(tmp_path), "WEB_WORKERS": "1"}
    env.pop("DATABASE_URL", None)  # the root health probe needs no database
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-worker", "--bind", f"127.0.0.1:{port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                assert server.poll() is None, "the server exited"
                time.sleep(0.2)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        statuses, sockets = [], []
        for _ in range(3):
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            sockets.append(connection.sock)
            assert not response.will_close
        assert statuses == [200, 200, 200]
        assert sockets[0] is not None and len(set(map(id, sockets))) == 1  # one TCP connection
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
